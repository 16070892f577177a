"""Reading a YAML config safely: bounded alias expansion, no duplicate keys, libyaml when present.

A config is small; a file whose aliases would expand into millions of values (a "billion
laughs" bomb) or that names one key twice is a mistake or an attack, and both are refused
before anything is built from it. Errors never echo more than a short excerpt of a value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smlp.errors import ConfigError

MAX_EXPANDED_NODES = 100_000  # values a config may hold once aliases are expanded
MAX_ECHO = 200  # characters of a value quoted back in an error message
MERGE_TAG = "tag:yaml.org,2002:merge"  # `<<: *base` may repeat; it is not a key


def shorten(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML config file; ConfigError naming the file otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a YAML config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                          "save the config as UTF-8") from None
    loaded = parse_yaml(text, str(path))
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, "
                          f"got {type(loaded).__name__}")
    return loaded


def parse_yaml(text: str, source: str) -> Any:
    """Compose the document, check its shape, then construct Python values from it."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~50x faster
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_node(node, source)
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError(f"{source}: the YAML is nested too deeply to be a config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{where}: YAML syntax error: {shorten(problem)}") from None
    finally:
        loader.dispose()


def _check_node(root: Any, source: str) -> None:
    """Refuse duplicate keys and alias expansions beyond :data:`MAX_EXPANDED_NODES`.

    Sizes are computed once per node (aliases share node objects), so the check itself costs
    time in proportion to the file, not to what it would expand to.
    """
    import yaml

    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:  # a recursive alias: safe_load would fail on it anyway
            raise ConfigError(f"{source}:{node.start_mark.line + 1}: a YAML alias refers to "
                              "itself")
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != MERGE_TAG:
                    name = key_node.value
                    if name in seen:
                        raise ConfigError(
                            f"{source}:{key_node.start_mark.line + 1}: duplicate key "
                            f"{shorten(name, 60)!r} (first on line {seen[name]}); a key may "
                            "appear once in a mapping")
                    seen[name] = key_node.start_mark.line + 1
                total += size(key_node) + size(value_node)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
        in_progress.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise ConfigError(f"{source}: the YAML expands to more than "
                              f"{MAX_EXPANDED_NODES:,} values (aliases repeated too often); "
                              "a config is never that large")
        sizes[key] = total
        return total

    size(root)
