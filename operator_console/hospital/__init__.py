"""One hospital's back office: its schedule (sessions, pools, check-in, suspensions and moves,
weekly templates), complaints, statistics and its own plugin settings; ``pick`` decides which
hospital a page is about.
"""
