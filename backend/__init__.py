"""plantrack: treatment-plan tracking for a dental referral exchange."""
