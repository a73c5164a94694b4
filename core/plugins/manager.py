"""Per-city plugin sets (pluggy)."""


class PluginHost:
    def __init__(self, rt):
        self.rt = rt
