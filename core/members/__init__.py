"""Members (会员): real-name registration, login, tokens (R1)."""
