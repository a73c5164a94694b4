"""Getting in and one's own account: log-in with password and TOTP, log-out, the language
switch, the city's single sign-on (OpenID Connect), and the person's own TOTP and password.
"""
