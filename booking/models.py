"""Cases, their participants and their history."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from booking.states import STATE_CHOICES, State
from core.models import Organisation, validate_timezone


class Case(models.Model):
    # About the child and the dispute: the case history records that they changed, never their values, and
    # anonymisation blanks them.
    PERSONAL_FIELDS = ("child_name", "child_date_of_birth", "issues", "health_provision_sought", "school_name")

    class Route(models.TextChoices):
        EDUCATION_SOCIAL_CARE = "education_social_care", "Mediation: education and social care"
        JOINT_HEALTH = "joint_health", "Mediation: education with health"
        HEALTH_ONLY = "health_only", "Mediation: health only"
        DISAGREEMENT_RESOLUTION = "disagreement_resolution", "Disagreement resolution"

    class Decision(models.TextChoices):
        """The appealable decisions of s.51 CFA 2014."""

        REFUSE_ASSESSMENT = "refuse_assessment", "Refusal to carry out an EHC needs assessment"
        NO_PLAN = "no_plan", "Decision not to issue an EHC plan after assessment"
        PLAN_CONTENTS = "plan_contents", "Needs, provision or placement in a plan"
        REFUSE_REASSESSMENT = "refuse_reassessment", "Refusal to re-assess"
        REFUSE_AMENDMENT = "refuse_amendment", "Refusal to amend after a review or re-assessment"
        CEASE_PLAN = "cease_plan", "Decision to cease to maintain a plan"
        NONE = "none", "No appealable decision (disagreement resolution)"

    class CertificateTrigger(models.TextChoices):
        DECLINED = "declined", "Family declined mediation"
        MEDIATION_CONCLUDED = "mediation_concluded", "Mediation concluded"
        NOT_ARRANGED_30_DAYS = "not_arranged_30_days", "Mediation could not be arranged within 30 days"
        WITHDRAWN = "withdrawn", "Family withdrew"

    reference = models.CharField(max_length=30, unique=True)
    provider = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="provider_cases",
        limit_choices_to={"kind": "provider"},
    )
    local_authority = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="la_cases",
        limit_choices_to={"kind": "local_authority"},
    )
    icbs = models.ManyToManyField(Organisation, blank=True, related_name="icb_cases", limit_choices_to={"kind": "icb"})
    route = models.CharField(max_length=30, choices=Route.choices)
    decision = models.CharField(max_length=30, choices=Decision.choices)
    issues = models.TextField(blank=True, help_text="The mediation issues as the family states them.")
    health_provision_sought = models.TextField(blank=True)
    placement_only = models.BooleanField(default=False, help_text="Only the placement (section I) is in dispute.")
    health_involved = models.BooleanField(default=False)
    social_care_involved = models.BooleanField(default=False)
    child_name = models.CharField(max_length=200, blank=True)
    child_date_of_birth = models.DateField(null=True, blank=True)
    school_name = models.CharField(max_length=200, blank=True, help_text="For conflict-of-interest checks.")
    needs_language = models.CharField(max_length=40, blank=True, help_text="Language or 'bsl' the meeting needs.")
    interpreter_arranged = models.BooleanField(default=False)
    short_notice_consent = models.BooleanField(
        default=False, help_text="The family agreed in writing to less than 5 working days' notice."
    )

    # The dates that start the clocks.
    decision_sent = models.DateField(null=True, blank=True)
    adviser_contacted = models.DateField(null=True, blank=True)
    family_requested = models.DateField(null=True, blank=True)
    la_notified = models.DateField(null=True, blank=True, help_text="The LA was told the family wants mediation.")
    icb_informed = models.DateField(null=True, blank=True)
    certificate_trigger = models.CharField(max_length=30, choices=CertificateTrigger.choices, blank=True)
    certificate_trigger_date = models.DateField(null=True, blank=True)
    certificate_issued_on = models.DateField(null=True, blank=True)
    held_on = models.DateField(null=True, blank=True)

    # Deadlines, computed by booking.statutory; the rule behind each is in deadline_rules.
    contact_deadline = models.DateField(null=True, blank=True)
    icb_notice_due = models.DateField(null=True, blank=True)
    mediation_due = models.DateField(null=True, blank=True, db_index=True)
    certificate_due = models.DateField(null=True, blank=True, db_index=True)
    appeal_deadline = models.DateField(null=True, blank=True)
    deadline_rules = models.JSONField(default=dict, blank=True)

    state = models.CharField(max_length=30, choices=STATE_CHOICES, default=State.ADVICE_REQUESTED, db_index=True)
    mediator = models.ForeignKey(
        "scheduling.Mediator", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(route__in=["joint_health", "health_only"]) | models.Q(health_involved=True),
                name="case_health_route_has_health",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def certificate_required(self) -> bool:
        """Placement-only, health-only and disagreement resolution cases need no certificate (DOMAIN.md 1.4, 2), nor
        does one whose family contacted the adviser out of time (reg 33)."""
        from booking.statutory import contact_out_of_time

        if contact_out_of_time(self.decision_sent, self.adviser_contacted):
            return False
        return not (self.placement_only or self.route in (self.Route.HEALTH_ONLY, self.Route.DISAGREEMENT_RESOLUTION))


class CaseEvent(models.Model):
    """The case history: every transition (who, when, from, to, why) and every other recorded change."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        TRANSITION = "transition", "State changed"
        UPDATED = "updated", "Details changed"
        MEDIATOR_ASSIGNED = "mediator_assigned", "Mediator assigned"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who acted, kept if the user is deleted.")
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case}: {self.kind} {self.from_state}→{self.to_state}"


class Participant(models.Model):
    class Role(models.TextChoices):
        PARENT = "parent", "Parent"
        YOUNG_PERSON = "young_person", "Young person"
        ALTERNATIVE_PERSON = "alternative_person", "Alternative person (for a young person lacking capacity)"
        SUPPORTER = "supporter", "Supporter or advocate"
        LA_OFFICER = "la_officer", "Local authority officer"
        HEALTH_REPRESENTATIVE = "health_representative", "Health representative (ICB)"
        SOCIAL_CARE = "social_care", "Social care representative"
        SCHOOL = "school", "School or college representative"
        INTERPRETER = "interpreter", "Interpreter"
        MEDIATOR = "mediator", "Mediator"
        OBSERVER = "observer", "Observer or trainee"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    FAMILY_ROLES = (Role.PARENT, Role.YOUNG_PERSON, Role.ALTERNATIVE_PERSON, Role.SUPPORTER)
    OPTIONAL_BY_DEFAULT = (Role.SUPPORTER, Role.OBSERVER, Role.SCHOOL)

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="participants")
    role = models.CharField(max_length=30, choices=Role.choices)
    required = models.BooleanField(default=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    mobile = models.CharField(max_length=20, blank=True, help_text="E.164")
    preferred_channels = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=40, default="en")
    decision_authority = models.BooleanField(default=False, help_text="LA or ICB officer who can make decisions.")
    step_free_access = models.BooleanField(default=False)
    hearing_loop = models.BooleanField(default=False)
    bsl_interpreter = models.BooleanField(default=False)
    interpreter_language = models.CharField(max_length=40, blank=True)
    access_notes = models.TextField(blank=True)
    timezone = models.CharField(max_length=64, default="Europe/London", validators=[validate_timezone])
    relationship = models.CharField(max_length=100, blank=True, help_text="For supporters: relationship to family.")
    meeting_preference = models.CharField(
        max_length=10,
        choices=[("either", "Either"), ("in_person", "In person"), ("online", "Online")],
        default="either",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="participations",
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"

    @property
    def is_family(self) -> bool:
        return self.role in self.FAMILY_ROLES


class ParticipantUnavailability(models.Model):
    """A weekly time the participant cannot do (the school run, work), in their local time."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="unavailable_times")
    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday … 6 = Sunday")
    start_time = models.TimeField()
    end_time = models.TimeField()
    note = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["participant", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="unavailability_weekday_0_6"),
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")), name="unavailability_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant}: not weekday {self.weekday} {self.start_time}-{self.end_time}"


class Mode(models.TextChoices):
    ONLINE = "online", "Online"
    IN_PERSON = "in_person", "In person"


class Offer(models.Model):
    """A short list of slots offered to the family, each held on every resource it uses until the offer expires."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "Withdrawn"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="offers")
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"], condition=models.Q(status="open"), name="offer_open_expiry")]

    def __str__(self) -> str:
        return f"Offer {self.pk} for {self.case} ({self.status})"


class OfferSlot(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="slots")
    rank = models.PositiveSmallIntegerField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    mode = models.CharField(max_length=10, choices=Mode.choices)
    mediator = models.ForeignKey("scheduling.Mediator", on_delete=models.PROTECT)
    room = models.ForeignKey("scheduling.Room", on_delete=models.PROTECT, null=True, blank=True)
    late = models.BooleanField(default=False, help_text="Ends after the statutory due date")
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["offer", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "rank"], name="offerslot_unique_rank"),
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="offerslot_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"Option {self.rank}: {self.start:%Y-%m-%d %H:%M}"


class Meeting(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"
        HELD = "held", "Held"

    class CancelledBy(models.TextChoices):
        FAMILY = "family", "Family"
        LA = "la", "Local authority"
        ICB = "icb", "ICB"
        PROVIDER = "provider", "Provider"
        MEDIATOR = "mediator", "Mediator"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="meetings")
    uid = models.CharField(max_length=255, unique=True, help_text="The iCalendar UID, for the meeting's whole life")
    sequence = models.PositiveIntegerField(default=0)
    start = models.DateTimeField()
    end = models.DateTimeField()
    mode = models.CharField(max_length=10, choices=Mode.choices)
    mediator = models.ForeignKey("scheduling.Mediator", on_delete=models.PROTECT, related_name="meetings")
    room = models.ForeignKey("scheduling.Room", on_delete=models.PROTECT, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    late = models.BooleanField(default=False)
    notice_given_on = models.DateField(help_text="The day the date and place were sent to the family")
    offer_slot = models.ForeignKey(OfferSlot, on_delete=models.SET_NULL, null=True, blank=True)
    cancelled_by = models.CharField(max_length=10, choices=CancelledBy.choices, blank=True)
    cancel_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="meeting_end_after_start"),
            # A case has at most one confirmed meeting: a second booking is refused by the database itself (409).
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(status="confirmed"), name="one_confirmed_meeting_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} meeting {self.start:%Y-%m-%d %H:%M}"


class MeetingAttendee(models.Model):
    """One attendee of a meeting as calendars see them: their iTIP role and their answer (PARTSTAT)."""

    class Partstat(models.TextChoices):
        NEEDS_ACTION = "NEEDS-ACTION", "No answer yet"
        ACCEPTED = "ACCEPTED", "Accepted"
        DECLINED = "DECLINED", "Declined"
        TENTATIVE = "TENTATIVE", "Maybe"
        DELEGATED = "DELEGATED", "Delegated"

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendees")
    participant = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, blank=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    ical_role = models.CharField(max_length=20, default="REQ-PARTICIPANT")
    partstat = models.CharField(max_length=20, choices=Partstat.choices, default=Partstat.NEEDS_ACTION)
    wants_another_time = models.BooleanField(default=False)
    reply_sequence = models.IntegerField(default=-1, help_text="SEQUENCE of the invitation the answer was to")
    responded_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True, help_text="False once removed from the meeting (sent a CANCEL)")
    token = models.CharField(max_length=40, unique=True, help_text="Random part of this attendee's answer links")

    class Meta:
        ordering = ["meeting", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "participant"],
                condition=models.Q(participant__isnull=False),
                name="attendee_once_per_meeting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.partstat})"


class CalendarFeed(models.Model):
    """A mediator's private subscription feed of their meetings (/calendar/<token>.ics). Revocable."""

    mediator = models.ForeignKey("scheduling.Mediator", on_delete=models.CASCADE, related_name="feeds")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mediator"], condition=models.Q(revoked_at__isnull=True), name="one_live_feed_per_mediator"
            )
        ]

    def __str__(self) -> str:
        return f"Feed of {self.mediator} ({'revoked' if self.revoked_at else 'live'})"


# --- outcomes, certificates, feedback, the audit trail and retention (issue 9) ---------------------------------------


class Outcome(models.Model):
    """What the mediation came to. Private notes are shown only to the mediator and the provider's coordinators."""

    class Result(models.TextChoices):
        FULL = "full", "Full agreement"
        PARTIAL = "partial", "Partial agreement"
        NONE = "none", "No agreement"
        WITHDRAWN = "withdrawn", "Withdrawn"
        DID_NOT_ATTEND = "did_not_attend", "Did not attend"

    AGREEMENT_RESULTS = (Result.FULL, Result.PARTIAL)

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="outcome")
    result = models.CharField(max_length=20, choices=Result.choices)
    mediation_date = models.DateField(help_text="The day the mediation ended")
    agreement_date = models.DateField(null=True, blank=True, help_text="The date of the written mediation agreement")
    la_was_party = models.BooleanField(default=True, help_text="False for a health-only agreement without the LA")
    summary = models.TextField(blank=True)
    private_notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    recorded_by_label = models.CharField(max_length=200, blank=True)
    recorded_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(agreement_date__isnull=True) | models.Q(result__in=["full", "partial"]),
                name="outcome_agreement_needs_agreement",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case}: {self.get_result_display()}"


class AgreedAction(models.Model):
    """One thing the LA or ICB agreed to do, due by reg 42 SI 2014/1530."""

    class Owner(models.TextChoices):
        LA = "la", "Local authority"
        ICB = "icb", "Integrated care board"

    REG44_CHOICES = [
        ("assess_notify", "Notify that the LA will assess"),
        ("decide_not_to_issue", "Decision not to issue a plan"),
        ("final_plan_after_assessment", "Final plan after assessment"),
        ("draft_plan", "Draft plan"),
        ("final_plan", "Final plan"),
        ("amend_plan", "Amend the plan"),
        ("amend_section_i", "Amend section I only"),
        ("cease", "Cease to maintain"),
    ]

    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="actions")
    owner = models.CharField(max_length=3, choices=Owner.choices)
    description = models.TextField()
    appealable = models.BooleanField(help_text="A matter that could be appealed to the tribunal (reg 42(2))")
    reg44_kind = models.CharField(max_length=30, choices=REG44_CHOICES, blank=True)
    icb_tells_la = models.BooleanField(default=False, help_text="The ICB tells the LA of the agreement (reg 42(4))")
    agreed_in_writing = models.DateField(null=True, blank=True, help_text="A different date agreed in writing")
    due = models.DateField(db_index=True)
    rule = models.TextField()
    rule_version = models.CharField(max_length=20)
    done_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(appealable=False) | ~models.Q(reg44_kind=""), name="action_appealable_has_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_owner_display()}: due {self.due}"


class Certificate(models.Model):
    """The mediation certificate, as issued: its dates and the PDF itself."""

    class Kind(models.TextChoices):
        POST_MEDIATION = "post_mediation", "Mediation held"
        DECLINED = "declined", "Family declined mediation"
        NOT_ARRANGED_30_DAYS = "not_arranged_30_days", "Mediation not arranged within 30 days"
        WITHDRAWN = "withdrawn", "Family withdrew from mediation"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="certificates")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    issuer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="certificates_issued")
    local_authority = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="certificates_received")
    decision_sent = models.DateField(null=True, blank=True)
    trigger_date = models.DateField()
    due_on = models.DateField()
    issued_on = models.DateField()
    appeal_deadline = models.DateField(null=True, blank=True)
    appeal_rule = models.TextField(blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    issued_by_label = models.CharField(max_length=200, blank=True)
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    token = models.CharField(max_length=40, unique=True, help_text="Random part of the family's download link")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_on", "-id"]
        constraints = [models.UniqueConstraint(fields=["case", "kind"], name="certificate_once_per_kind")]

    def __str__(self) -> str:
        return f"{self.case}: {self.get_kind_display()} certificate {self.issued_on}"


class FeedbackRequest(models.Model):
    """A short feedback form sent to the family by link after the meeting: a score from 1 to 5 and a comment."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="feedback_requests")
    meeting = models.ForeignKey(Meeting, on_delete=models.SET_NULL, null=True, blank=True)
    participant = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=1, score__lte=5), name="feedback_score_1_5"
            ),
            models.UniqueConstraint(fields=["case", "participant"], name="feedback_once_per_person"),
        ]

    def __str__(self) -> str:
        return f"Feedback for {self.case} ({'answered' if self.answered_at else 'open'})"


class AuditRefused(Exception):
    """The audit trail is append-only."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise AuditRefused("Audit events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditRefused("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """Who viewed or changed a case, meeting or participant. Append-only: field names, never values."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CREATE = "create", "Created"
        CHANGE = "change", "Changed"
        DELETE = "delete", "Deleted"

    class ActorKind(models.TextChoices):
        USER = "user", "Staff user"
        FAMILY_LINK = "family_link", "Family link"
        SYSTEM = "system", "System"

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor_kind = models.CharField(max_length=12, choices=ActorKind.choices)
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=6, choices=Action.choices)
    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    # Plain ids, not foreign keys: the record outlives the rows it speaks of.
    case_id_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    path = models.CharField(max_length=300, blank=True)
    via = models.CharField(max_length=10, blank=True, help_text="api, page, admin or system")
    fields = models.JSONField(default=list, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise AuditRefused("Audit events cannot be changed.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AuditRefused("Audit events cannot be deleted.")


class RetentionPolicy(models.Model):
    """How long personal data of a closed case is kept, set by the organisation (the LA as controller, usually)."""

    DEFAULT_YEARS = 6

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="retention_policy")
    years_after_closure = models.PositiveSmallIntegerField(default=DEFAULT_YEARS)

    class Meta:
        verbose_name_plural = "retention policies"
        constraints = [
            models.CheckConstraint(condition=models.Q(years_after_closure__gte=1), name="retention_at_least_a_year")
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.years_after_closure} years"


class CaseAnonymisation(models.Model):
    """A case whose personal data was removed, and when and why (retention or erasure)."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="anonymisation")
    at = models.DateTimeField()
    reason = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.case} anonymised {self.at:%Y-%m-%d}"
