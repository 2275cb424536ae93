"""Commissions (commissioned services) and providers: the register, the commission page, variations."""
