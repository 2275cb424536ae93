"""Delivery monitoring: outputs and KPIs per commission, provider monitoring returns, and documents."""
