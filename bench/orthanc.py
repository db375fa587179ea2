"""Orthanc with its DICOMweb plugin, the reference the benchmark compares openpacs with.

Debian's packages ``orthanc`` and ``orthanc-dicomweb`` (installed with apt-get when
``/usr/sbin/Orthanc`` is missing). Orthanc runs as a subprocess with its own JSON
configuration: loopback only (RemoteAccessAllowed false), free HTTP and DICOM ports,
storage and index in the benchmark's temporary folder, HTTP Basic authentication, the
plugins folder of the Debian package, and the DICOMweb root ``/dicom-web/``. All other
settings are Orthanc's built-in defaults.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench.harness import Target
from bench.servers import BENCH_PASSWORD, free_port, stop_process, wait_until_up

ORTHANC = Path("/usr/sbin/Orthanc")
PLUGINS = Path("/usr/share/orthanc/plugins")
BENCH_USER = "bench"


def ensure_installed() -> None:
    """Install Debian's Orthanc and DICOMweb plugin when missing (root, apt-get)."""
    if ORTHANC.exists() and any(PLUGINS.glob("libOrthancDicomWeb.so*")):
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError("Orthanc is not installed and apt-get is not available")
    install = ["apt-get", "install", "-y", "orthanc", "orthanc-dicomweb"]
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    # The package may start a system service on port 8042; ours uses its own ports, and
    # policy-rc.d usually stops it from starting in containers anyway.


def version() -> str:
    try:
        out = subprocess.run(
            [str(ORTHANC), "--version"], capture_output=True, text=True, check=False, timeout=10
        ).stdout
    except OSError:
        return "?"
    return out.splitlines()[0].strip() if out else "?"


class OrthancServer:
    name = "orthanc"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.log_path = data_dir / "orthanc.log"
        self.config_path = data_dir / "orthanc.json"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/dicom-web"

    def config(self) -> dict[str, object]:
        storage = self.data_dir / "storage"
        return {
            "Name": "OrthancBench",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {BENCH_USER: BENCH_PASSWORD},
            "Plugins": [str(PLUGINS)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True},
            # The DIMSE scenarios' calling AE title, a known modality (bench/dimse.py).
            "DicomModalities": {"bench": ["BENCHSCU", "127.0.0.1", 104]},
        }

    def start(self) -> Target:
        ensure_installed()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(ORTHANC), str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
            )
        wait_until_up(self.process, f"http://127.0.0.1:{self.http_port}/system", self.log_path, 60)
        return Target(
            self.name,
            self.root,
            (BENCH_USER, BENCH_PASSWORD),
            self.process.pid,
            dicom=(self.dicom_port, "ORTHANC"),
            thumbnail_as_rendered=True,
        )

    def stop(self) -> None:
        stop_process(self.process)
