"""The public Python API is documented, and every C function is reachable from Python.

"A function that exists only in C is not a feature": every row of descent._ffi.FUNCTIONS must be
called somewhere in the package (outside the FFI table itself), and every public callable or
class of descent and its submodules carries a docstring. Public methods and properties of the
public classes are held to the same rule.
"""

import inspect
import pathlib
import re

import descent
from descent import _ffi, clip, functional, gradcheck, nn, optim, schedules

MODULES = [descent, optim, functional, schedules, clip, nn, gradcheck]
PACKAGE = pathlib.Path(descent.__file__).resolve().parent


def public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name in vars(module) if not name.startswith("_")]
    return sorted(names)


def public_objects():
    """(qualified name, object) of every public function, class, method and property."""
    seen = set()
    found = []
    for module in MODULES:
        for name in public_names(module):
            value = getattr(module, name)
            if inspect.ismodule(value) or not (callable(value) or isinstance(value, property)):
                continue
            if id(value) in seen:
                continue
            seen.add(id(value))
            found.append((f"{module.__name__}.{name}", value))
            if inspect.isclass(value) and value.__module__.startswith("descent"):
                for member, attribute in vars(value).items():
                    if member.startswith("_") and member != "__init__":
                        continue
                    if member == "__init__" or not (inspect.isfunction(attribute) or isinstance(attribute, property)):
                        continue
                    found.append((f"{module.__name__}.{name}.{member}", attribute))
    return found


def test_every_module_lists_its_public_names():
    for module in MODULES[1:]:
        assert hasattr(module, "__all__"), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.__all__ names missing {name}"


def test_every_public_object_has_a_docstring():
    objects = public_objects()
    assert len(objects) > 100
    missing = [name for name, value in objects if not (inspect.getdoc(value) or "").strip()]
    assert missing == [], f"public names without a docstring: {missing}"


def test_every_module_has_a_docstring():
    for module in MODULES:
        assert (module.__doc__ or "").strip(), module.__name__


def test_every_c_function_is_used_by_the_package():
    rows = [row[0] for row in _ffi.FUNCTIONS]
    assert len(rows) == len(set(rows)), "duplicate FFI rows"
    sources = {}
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name == "_ffi.py":
            # the table itself does not count as a use; the rest of _ffi.py (last_error, ...) does
            start = text.index("FUNCTIONS")
            end = text.index("\n]\n", start)
            text = text[:start] + text[end:]
        sources[path.name] = text
    unused = [name for name in rows
              if not any(re.search(r"\b%s\b" % re.escape(name), text) for text in sources.values())]
    assert unused == [], f"C functions no Python code calls: {unused}"


def test_ffi_table_covers_the_header():
    header = (PACKAGE.parents[1] / "include" / "descent.h").read_text(encoding="utf-8")
    declared = set(re.findall(r"^[a-z_][a-z0-9_ *]*?\b(descent_[a-z0-9_]+)\(", header, re.MULTILINE))
    rows = {row[0] for row in _ffi.FUNCTIONS}
    assert declared - rows == set(), f"declared in descent.h but not in the FFI table: {sorted(declared - rows)}"


def test_optimizer_counts_reports_the_native_object():
    import numpy as np
    import pytest
    w1, w2, w3 = np.zeros(2), np.zeros(3), np.zeros((2, 2), dtype=np.float32)
    opt = optim.Adam([{"params": [w1, w2]}, {"params": [w3]}])
    assert opt.counts() == (optim.Adam.RULE, 2, 3)
    opt.add_param_group({"params": [np.zeros(1)]})
    assert opt.counts() == (optim.Adam.RULE, 3, 4)
    assert repr(opt) == "Adam(3 groups, 4 params)"
    opt.close()
    assert repr(opt) == "Adam(closed)"
    with pytest.raises(descent.InvalidHandleError):
        opt.counts()


def test_optimizer_docstrings_name_every_default():
    """Each optimizer class's docstring names every hyper-parameter it accepts, with its default."""
    problems = []
    for name in optim.__all__:
        cls = getattr(optim, name)
        if cls is optim.Optimizer:
            continue
        doc = inspect.getdoc(cls)
        for key, value in cls.DEFAULTS.items():
            if not re.search(r"\b%s\b" % key, doc):
                problems.append(f"{name}: {key} not documented")
            elif isinstance(value, bool) and not re.search(r"\b%s(=| )%s\b" % (key, value), doc):
                problems.append(f"{name}: default {key} {value} not stated")
    assert problems == []


def _documentation_of(name, value):
    """The text that documents `value`: its docstring, its descent base classes' docstrings (an
    optimizer class inherits the base's description of params/nonfinite), and for the stateless
    rules the module docstring that describes their shared arguments."""
    texts = [inspect.getdoc(value) or ""]
    if inspect.isclass(value):
        texts += [inspect.getdoc(base) or "" for base in value.__mro__[1:] if base.__module__.startswith("descent")]
    if name.startswith("descent.functional."):
        texts.append(functional.__doc__)
    return "\n".join(texts)


def test_every_defaulted_parameter_is_documented():
    """A parameter with a default is named in the documentation (which states the default)."""
    problems = []
    for name, value in public_objects():
        if isinstance(value, property) or (inspect.isclass(value) and issubclass(value, descent.DescentError)):
            continue
        target = value.__init__ if inspect.isclass(value) else value
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            continue
        text = _documentation_of(name, value)
        for parameter in signature.parameters.values():
            if parameter.default is parameter.empty or parameter.default is None:
                continue
            if not re.search(r"\b%s\b" % re.escape(parameter.name), text):
                problems.append(f"{name}: {parameter.name}")
    assert problems == [], f"defaulted parameters the docstring does not mention: {problems}"


def test_docstrings_name_only_real_parameters():
    """``name=value`` in a function's docstring names one of its parameters."""
    problems = []
    for name, value in public_objects():
        if isinstance(value, property):
            continue
        target = value.__init__ if inspect.isclass(value) else value
        try:
            parameters = inspect.signature(target).parameters
        except (TypeError, ValueError):
            continue
        if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            continue
        parameters = set(parameters)
        if inspect.isclass(value):  # a class docstring may describe its methods' calls
            for member in vars(value).values():
                if inspect.isfunction(member):
                    parameters |= set(inspect.signature(member).parameters)
        doc = inspect.getdoc(value) or ""
        for match in re.finditer(r"(?<![\w.\"'`(])([a-z_][a-z0-9_]*)=(?!=)", doc):
            if match.group(1) not in parameters:
                problems.append(f"{name}: {match.group(1)}")
    assert problems == [], problems
