"""Plugins: the hooks a plugin implements (:mod:`.hookspecs`), the registry they fill (:mod:`.registry`),
loading in isolation (:mod:`.manager`), building registered things by name (:mod:`.factory`), and the
core's own registrations (:mod:`.builtins`)."""
