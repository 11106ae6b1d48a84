"""Build hook: compile the schedule engine's hot modules with mypyc.

Hatchling runs this for every wheel build, so both ``pip install '.[cli]'`` and the
editable ``pip install -e '.[dev]'`` compile :data:`MODULES` into C extensions next to
their pure-Python sources (Python imports an extension before a ``.py`` module of the same
name; without the extension the ``.py`` module runs, with identical results). The build
needs a C compiler and the Python headers; mypy (which ships mypyc), setuptools and the
project's runtime dependencies (mypy reads their types) are installed into the isolated
build environment from the package index.

- Regular wheel: the modules are compiled in a temporary copy of ``src/`` and the
  extensions are added to the wheel, which is then tagged for this interpreter and
  platform. Nothing is written into the source tree.
- Editable install: the extensions are written beside the sources in
  ``src/immreg/schedule/`` (git ignores them). They are built from the sources as they
  were at install time: after editing a compiled module, install again (or delete the
  ``.so`` files) so that the edit runs.
- Without a C compiler or the Python headers the build is pure Python, with a warning;
  a compile error with both present fails the build (so CI sees it).
- ``IMMREG_PURE_PYTHON=1`` at build time makes a pure-Python build (a ``py3-none-any``
  wheel; an editable install removes extensions left by an earlier one), and nothing
  beyond hatchling is installed for the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# The modules compiled, relative to src/: the fast path and the batch API's loops over it.
MODULES = ("immreg/schedule/compiled.py", "immreg/schedule/lean.py")
# The mypy release whose mypyc compiles them (pinned: the generated C code is mypyc's).
MYPY = "mypy==2.4.1"
PURE_ENV = "IMMREG_PURE_PYTHON"
# What mypyc's own command line does, with each module in a group of its own (its shared
# library beside it in the package, named after it, rather than a hashed top-level one).
SETUP = """\
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="immreg-mypyc",
    ext_modules=mypycify({modules!r}, opt_level={opt_level!r}, separate=True),
)
"""


def _pure() -> bool:
    return os.environ.get(PURE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _missing_toolchain() -> str | None:
    """What this machine lacks to compile an extension (a C compiler or the Python
    headers), or ``None``: without them the build is pure Python, with a notice, rather
    than a failed install. A compile error with both present still fails the build."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    if not cc or shutil.which(cc[0]) is None:
        return f"no C compiler ({cc[0] if cc else 'CC'} is not on PATH)"
    include = sysconfig.get_paths().get("include") or sysconfig.get_config_var("INCLUDEPY")
    if not include or not (Path(include) / "Python.h").is_file():
        return f"no Python headers (Python.h is not in {include})"
    return None


class MypycBuildHook(BuildHookInterface):  # type: ignore[type-arg,misc,unused-ignore]
    """Compile :data:`MODULES` with mypyc unless ``IMMREG_PURE_PYTHON`` is set."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        if _pure():
            return []
        return [MYPY, "setuptools>=69", *self.metadata.core.dependencies]

    def _in_place(self) -> list[Path]:
        """Extensions an editable install left beside the sources (any interpreter)."""
        src = Path(self.root) / "src"
        found: list[Path] = []
        for module in MODULES:
            stem = (src / module).with_suffix("")
            found += stem.parent.glob(f"{stem.name}.*.so")
            found += stem.parent.glob(f"{stem.name}__mypyc.*.so")
            found += stem.parent.glob(f"{stem.name}.*.pyd")
            found += stem.parent.glob(f"{stem.name}__mypyc.*.pyd")
        return found

    def clean(self, versions: list[str]) -> None:
        for path in self._in_place():
            path.unlink()

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        editable = version == "editable"
        if editable:
            self.clean([version])
        if _pure():
            self.app.display_info(f"immreg: {PURE_ENV} is set, building pure Python")
            return
        lacking = _missing_toolchain()
        if lacking is not None:
            self.app.display_warning(
                f"immreg: {lacking}; building pure Python (the schedule engine's batch mode"
                " runs at about half the speed; install gcc and the Python headers and"
                " reinstall to compile it)"
            )
            return
        self._work = Path(tempfile.mkdtemp(prefix="immreg-mypyc-"))
        src = self._work / "src"
        shutil.copytree(
            Path(self.root) / "src" / "immreg",
            src / "immreg",
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd", "*.pyc"),
        )
        self.app.display_info(f"immreg: compiling {', '.join(MODULES)} with mypyc")
        # setuptools in a scratch copy of src/: no project configuration is read, and the
        # build/ directory and the extensions stay out of the source tree.
        setup = self._work / "setup.py"
        opt_level = os.environ.get("MYPYC_OPT_LEVEL", "3")
        setup.write_text(SETUP.format(modules=list(MODULES), opt_level=opt_level))
        done = subprocess.run(
            [sys.executable, str(setup), "build_ext", "--inplace"],
            cwd=src,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(
                f"mypyc could not compile {', '.join(MODULES)} (it needs a C compiler and "
                f"the Python headers; set {PURE_ENV}=1 for a pure-Python build):\n" + done.stdout
            )
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        built = sorted((src / "immreg").rglob(f"*{suffix}"))
        if not built:
            raise RuntimeError(f"mypyc produced no extension:\n{done.stdout}")
        for path in built:
            relative = path.relative_to(src)
            if editable:
                shutil.copy2(path, Path(self.root) / "src" / relative)
            else:
                build_data["force_include"][str(path)] = str(relative)
        if not editable:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
