"""Fakes of the far ends the platform talks to: real local servers that check what the real
provider checks (signatures, keys, tokens) and record what they accepted."""
