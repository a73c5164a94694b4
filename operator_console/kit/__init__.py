"""The console's own framework, shared by every page: the signed session cookie, principals,
role capabilities and scope checks (``access``), the navigation, and ``pages`` (the
``console_page`` wrapper, CSRF, language, rendering, refusals as pages).
"""
