"""Phone numbers: parsed as UK by default, stored in E.164."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumberError(ValueError):
    pass


def to_e164(raw: str, *, region: str = "GB") -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumberError("Enter a phone number, like 07911 123456 or +44 7911 123456.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumberError("Enter a valid phone number, like 07911 123456 or +44 7911 123456.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
