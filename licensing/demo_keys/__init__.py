"""The demo's licence key pair: it signs the demo city's licence and nothing else.

Both halves ship with the platform on purpose, so anyone can run the demo; that is why its
public key is trusted only by the embedded demo (``not settings.production``) and never by a
production server, where a licence it signed is refused as foreign-signed. The vendor's own
pair is made with ``guahao licence keygen --out DIR`` and its private half never leaves the
vendor.
"""
