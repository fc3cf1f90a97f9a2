"""Clients for the services that carry messages to people: SMTP (email) and Twilio (SMS).

They know nothing of the outbox or the database: they take plain values, send one message, and either return a
`SendResult` or raise `TransportError`, whose `permanent` flag tells the caller whether a retry can help.
"""
