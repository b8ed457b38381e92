"""Build hook: compile the optional Cython accelerator ``khoyte.standards._fastrows``.

It walks the libxml2 trees lxml parsed (see the module's docstring), so it is compiled against
the headers lxml ships (``lxml.get_include()``). Editable installs (``uv sync``) build it in place
next to its source; wheels carry it. Where it cannot be compiled (no C compiler or Python
headers) the build says so and khoyte runs on the pure-Python reader (same results, slower);
``KHOYTE_REQUIRE_ACCELERATOR=1`` makes that an error, ``KHOYTE_PURE_PYTHON=1`` skips it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXTENSIONS = {"khoyte.standards._fastrows": "src/khoyte/standards/_fastrows.pyx"}


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("KHOYTE_PURE_PYTHON") == "1":
            return
        import lxml
        from Cython.Build import cythonize
        from setuptools import Distribution, Extension

        root = Path(self.root)
        exts = [
            Extension(name, [str(root / src)], include_dirs=lxml.get_include())
            for name, src in EXTENSIONS.items()
        ]
        dist = Distribution(
            {
                "ext_modules": cythonize(exts, language_level=3, quiet=True),
                "package_dir": {"": "src"},
            }
        )
        dist.script_name = "hatch_build.py"
        cmd = dist.get_command_obj("build_ext")
        cmd.inplace = True  # type: ignore[attr-defined]
        cmd.build_temp = str(root / "build" / "temp")  # type: ignore[attr-defined]
        old = os.getcwd()
        os.chdir(root)
        try:
            cmd.ensure_finalized()
            cmd.run()
            built = [root / cmd.get_ext_fullpath(name) for name in EXTENSIONS]  # type: ignore[attr-defined]
        except Exception as exc:  # no compiler or headers: install the pure-Python reader
            if os.environ.get("KHOYTE_REQUIRE_ACCELERATOR") == "1":
                raise
            sys.stderr.write(
                f"khoyte: the compiled reader was not built ({exc}); "
                "khoyte will run on the pure-Python reader (same results, slower)\n"
            )
            return
        finally:
            os.chdir(old)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            for so in built:
                rel = so.resolve().relative_to((root / "src").resolve())
                build_data["force_include"][str(so)] = str(rel)
