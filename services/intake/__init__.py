"""Intake: where every piece of customer information enters; the only producer of FeedbackReceived."""
