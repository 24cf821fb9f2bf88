"""Billing: plans, subscriptions and what a plan allows (owned by the billing area)."""
