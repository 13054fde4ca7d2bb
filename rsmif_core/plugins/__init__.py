"""Plugin discovery (entry-point group ``rsmif``) and the hook specifications."""

from rsmif_core.plugins.hookspecs import hookimpl, hookspec
from rsmif_core.plugins.manager import PluginInfo, load_plugins, plugin_infos, plugin_manager

__all__ = ["PluginInfo", "hookimpl", "hookspec", "load_plugins", "plugin_infos", "plugin_manager"]
