"""Tiny deterministic YAML emitter (Python 3.11 standard library only).

Emits block-style YAML for dict/list/str/int/float/bool/None.  Strings that
could be mis-read by a YAML 1.1 or 1.2 parser are double-quoted with JSON
escaping (JSON strings are valid YAML).  Multi-line strings use literal
blocks when that is lossless.
"""
import json
import re

_PLAIN = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_ ./:@,=+()\-*~]*$")
_AMBIGUOUS = {
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "",
}
_NUMLIKE = re.compile(
    r"^[-+]?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|\.\d+|0x[0-9a-fA-F]+|0o[0-7]+|\.inf|\.nan)$"
    r"|^\d{1,2}(:\d\d)+$"  # sexagesimal
)
_DATELIKE = re.compile(r"^\d{4}-\d\d?-\d\d?")


def _scalar_str(s: str) -> str:
    if (
        _PLAIN.match(s)
        and s.lower() not in _AMBIGUOUS
        and not _NUMLIKE.match(s)
        and not _DATELIKE.match(s)
        and not s.endswith(" ")
        and ": " not in s
        and " #" not in s
        and not s.endswith(":")
    ):
        return s
    return json.dumps(s, ensure_ascii=False)


def _scalar(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return _scalar_str(v)
    raise TypeError(f"unsupported scalar {type(v)}: {v!r}")


def _block_ok(s: str) -> bool:
    if "\n" not in s.rstrip("\n"):
        return False
    if "\t" in s or "\r" in s:
        return False
    body = s[:-1] if s.endswith("\n") else s
    if body.endswith("\n"):
        return False  # more than one trailing newline: keep it simple
    for line in body.split("\n"):
        if line.endswith(" "):
            return False
    first = body.split("\n", 1)[0]
    if first.startswith(" "):
        return False
    return True


def _emit(v, indent: int, out: list):
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return
        for k, val in v.items():
            key = _scalar_str(str(k))
            if isinstance(val, dict) and val:
                out.append(f"{pad}{key}:")
                _emit(val, indent + 2, out)
            elif isinstance(val, list) and val:
                out.append(f"{pad}{key}:")
                _emit(val, indent, out)
            elif isinstance(val, str) and _block_ok(val):
                chomp = "" if val.endswith("\n") else "-"
                out.append(f"{pad}{key}: |{chomp}")
                body = val[:-1] if val.endswith("\n") else val
                for line in body.split("\n"):
                    out.append(f"{pad}  {line}" if line else "")
            elif isinstance(val, dict):
                out.append(f"{pad}{key}: {{}}")
            elif isinstance(val, list):
                out.append(f"{pad}{key}: []")
            else:
                out.append(f"{pad}{key}: {_scalar(val)}")
    elif isinstance(v, list):
        for item in v:
            if isinstance(item, dict) and item:
                sub: list = []
                _emit(item, indent + 2, sub)
                first = sub[0]
                out.append(f"{pad}- {first[indent + 2:]}")
                out.extend(sub[1:])
            elif isinstance(item, list) and item:
                sub = []
                _emit(item, indent + 2, sub)
                out.append(f"{pad}-")
                out.extend(sub)
            elif isinstance(item, str) and _block_ok(item):
                out.append(f"{pad}- {json.dumps(item, ensure_ascii=False)}")
            elif isinstance(item, dict):
                out.append(f"{pad}- {{}}")
            elif isinstance(item, list):
                out.append(f"{pad}- []")
            else:
                out.append(f"{pad}- {_scalar(item)}")
    else:
        out.append(f"{pad}{_scalar(v)}")


def dump(obj) -> str:
    out: list = []
    _emit(obj, 0, out)
    return "\n".join(out) + "\n"


def dump_all(objs) -> str:
    return "".join("---\n" + dump(o) for o in objs)
