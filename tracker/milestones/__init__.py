"""Milestones and deadlines: typed-in milestones, deadlines made from funding years and commissions, calendars
and reminders."""
