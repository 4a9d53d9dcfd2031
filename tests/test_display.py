"""The window's system libraries: ldd on Qt's xcb plugin, os-release, packages and the install command."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from faceorganizer import display
from faceorganizer.display import (
    PACKAGES,
    InstallHint,
    XcbCheck,
    check_xcb_plugin,
    find_xcb_plugin,
    install_hint,
    parse_ldd,
    parse_os_release,
    platform_family,
    read_os_release,
    run_ldd,
    xcb_would_be_used,
)

THE_THREE = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")

# What ldd prints for PySide6's libqxcb.so on a fresh Debian/Ubuntu desktop (trimmed): the
# missing libraries show up twice, once as the plugin's needs and once as libQt6XcbQpa's.
LDD_FRESH_DESKTOP = """\
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlinux-vdso.so.1 (0x00007ffd6f5f2000)
\tlibQt6XcbQpa.so.6 => /opt/v/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f1c5e200000)
\tlibQt6Gui.so.6 => /opt/v/PySide6/Qt/plugins/platforms/../../lib/libQt6Gui.so.6 (0x00007f1c5d800000)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f1c5e170000)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f1c5e163000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f1c5e15b000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-image.so.0 => /lib/x86_64-linux-gnu/libxcb-image.so.0 (0x00007f1c5e155000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-randr.so.0 => /lib/x86_64-linux-gnu/libxcb-randr.so.0 (0x00007f1c5e142000)
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f1c5e118000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1c5d41e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f1c5e2bd000)
"""
LDD_ALL_FOUND = """\
\tlinux-vdso.so.1 (0x00007ffd6f5f2000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f1c5e15b000)
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f1c5e118000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f1c5e2bd000)
"""
LDD_MUSL = """\
\t/lib/ld-musl-x86_64.so.1 (0x7f0c6d5a1000)
\tlibxcb.so.1 => /usr/lib/libxcb.so.1 (0x7f0c6d4e2000)
Error loading shared library libxcb-icccm.so.4: No such file or directory (needed by /p/libqxcb.so)
Error loading shared library libxcb-keysyms.so.1: No such file or directory (needed by /p/libqxcb.so)
"""

UBUNTU = 'NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 24.04 LTS"\n'


# --- ldd output -------------------------------------------------------------------------------

def test_parse_ldd_finds_the_three_missing_libraries_once_each_in_order() -> None:
    assert parse_ldd(LDD_FRESH_DESKTOP) == THE_THREE


def test_parse_ldd_finds_nothing_missing_when_everything_resolves() -> None:
    assert parse_ldd(LDD_ALL_FOUND) == ()


def test_parse_ldd_reads_musl_errors_too() -> None:
    assert parse_ldd(LDD_MUSL) == ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")


@pytest.mark.parametrize("odd", ["", "\tnot a dynamic executable\n", "statically linked\n",
                                 "garbage => \n=> not found\nnot found\n\x00\xff"])
def test_parse_ldd_ignores_odd_output(odd: str) -> None:
    assert parse_ldd(odd) == ()


# --- os-release -------------------------------------------------------------------------------

def test_os_release_quotes_comments_and_junk() -> None:
    text = ("# a comment\n\n  PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"
            "NAME='Single Quoted'\nVERSION=\"with \\\"escaped\\\" quotes\"\n"
            "this line is junk\n=no key\n1BAD=x\nBROKEN=\"unbalanced\nID_LIKE=\n")
    found = parse_os_release(text)
    assert found == {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian",
                     "NAME": "Single Quoted", "VERSION": 'with "escaped" quotes',
                     "BROKEN": "unbalanced", "ID_LIKE": ""}


def test_os_release_missing_file_is_empty_and_the_fallback_file_is_read(tmp_path: Path) -> None:
    assert read_os_release([tmp_path / "nope"]) == {}
    fallback = tmp_path / "usr-lib-os-release"
    fallback.write_text(UBUNTU)
    assert read_os_release([tmp_path / "nope", fallback])["ID"] == "ubuntu"
    (tmp_path / "a-folder").mkdir()
    assert read_os_release([tmp_path / "a-folder"]) == {}


@pytest.mark.parametrize(("text", "family"), [
    ('ID=debian\n', "debian"),
    (UBUNTU, "debian"),
    ('ID=linuxmint\nID_LIKE="ubuntu debian"\n', "debian"),
    ('ID=somederivative\nID_LIKE="ubuntu"\n', "debian"),
    ('ID=fedora\n', "fedora"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "fedora"),
    ('ID="rhel"\nID_LIKE="fedora"\n', "fedora"),
    ('ID=arch\n', "arch"),
    ('ID=manjaro\nID_LIKE=arch\n', "arch"),
    ('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n', "suse"),
    ('ID="opensuse-microos"\n', "suse"),
    ('ID="sles"\nID_LIKE="suse"\n', "suse"),
    ('ID=gentoo\n', None),
    ('ID=nixos\n', None),
    ('', None),
])
def test_platform_family(text: str, family: str | None) -> None:
    assert platform_family(parse_os_release(text)) == family


# --- packages and the command -----------------------------------------------------------------

@pytest.mark.parametrize(("release", "command"), [
    (UBUNTU, "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"),
    ("ID=fedora\n", "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms"),
    ("ID=arch\n", "sudo pacman -S xcb-util-cursor xcb-util-wm xcb-util-keysyms"),
    ('ID="opensuse-leap"\nID_LIKE="suse opensuse"\n',
     "sudo zypper install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"),
])
def test_the_command_for_the_three_libraries_per_family(release: str, command: str) -> None:
    hint = install_hint(THE_THREE, parse_os_release(release), as_root=False)
    assert hint.command == command
    assert hint.unmapped == ()


def test_root_needs_no_sudo() -> None:
    hint = install_hint(THE_THREE, {"ID": "debian"}, as_root=True)
    assert hint.command == "apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"


def test_one_package_for_several_libraries_is_named_once() -> None:
    missing = ("libxcb-randr.so.0", "libxcb-shape.so.0", "libxcb.so.1", "libxcb-icccm.so.4")
    fedora = install_hint(missing, {"ID": "fedora"}, as_root=False)
    assert fedora.command == "sudo dnf install libxcb xcb-util-wm"
    assert install_hint(missing, {"ID": "debian"}, as_root=False).packages == (
        "libxcb-randr0", "libxcb-shape0", "libxcb1", "libxcb-icccm4")


def test_unknown_libraries_are_listed_by_name() -> None:
    hint = install_hint(("libxcb-cursor.so.0", "libweird.so.3"), {"ID": "debian"}, as_root=False)
    assert hint == InstallHint("debian", ("libxcb-cursor0",), ("libweird.so.3",),
                               "sudo apt-get install libxcb-cursor0")
    only_unknown = install_hint(("libweird.so.3",), {"ID": "debian"}, as_root=False)
    assert only_unknown.command is None
    assert only_unknown.unmapped == ("libweird.so.3",)


def test_an_unknown_platform_gets_the_list_of_libraries() -> None:
    hint = install_hint(THE_THREE, {"ID": "gentoo"}, as_root=False)
    assert hint == InstallHint(None, (), THE_THREE, None)
    message = display.missing_libraries_message(XcbCheck(Path("/p"), THE_THREE), hint)
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1" in message
    assert "Install the packages of your system that provide them" in message


def test_the_table_covers_what_qts_xcb_plugin_needs_on_every_family() -> None:
    needed = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-image.so.0",
              "libxcb-render-util.so.0", "libxcb-randr.so.0", "libxcb-shape.so.0", "libxcb-xfixes.so.0",
              "libxcb-xinerama.so.0", "libxcb-xkb.so.1", "libxkbcommon-x11.so.0", "libxcb.so.1",
              "libX11-xcb.so.1", "libEGL.so.1", "libGL.so.1", "libfontconfig.so.1", "libdbus-1.so.3"]
    assert [n for n in needed if n not in PACKAGES] == []
    assert all(len(row) == 4 and all(row) for row in PACKAGES.values())


# --- running ldd ------------------------------------------------------------------------------

def fake_ldd(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-ldd"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    path = tmp_path / "libqxcb.so"
    path.write_bytes(b"\x7fELF")
    return path


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="runs shell scripts as ldd")


@linux_only
def test_the_check_reports_what_ldd_says_is_missing(tmp_path: Path, plugin: Path) -> None:
    (tmp_path / "out.txt").write_text(LDD_FRESH_DESKTOP)
    check = check_xcb_plugin(plugin, fake_ldd(tmp_path, f"cat {tmp_path / 'out.txt'}"), "linux")
    assert check == XcbCheck(plugin, THE_THREE, None)
    assert check.status == "missing"


@linux_only
def test_the_check_is_ok_when_everything_resolves(tmp_path: Path, plugin: Path) -> None:
    (tmp_path / "out.txt").write_text(LDD_ALL_FOUND)
    check = check_xcb_plugin(plugin, fake_ldd(tmp_path, f"cat {tmp_path / 'out.txt'}"), "linux")
    assert (check.status, check.missing, check.error) == ("ok", (), None)


def test_no_ldd_means_unknown(monkeypatch: pytest.MonkeyPatch, plugin: Path) -> None:
    monkeypatch.setattr(display.shutil, "which", lambda name: None)
    check = check_xcb_plugin(plugin, platform="linux")
    assert check.status == "unknown"
    assert "ldd is not installed" in (check.error or "")
    output, error = run_ldd(plugin, ldd=str(plugin.parent / "no-such-ldd"))
    assert output == "" and "could not be run" in (error or "")


@linux_only
def test_ldd_failing_means_unknown(tmp_path: Path, plugin: Path) -> None:
    ldd = fake_ldd(tmp_path, 'echo "\tnot a dynamic executable"; exit 1')
    check = check_xcb_plugin(plugin, ldd, "linux")
    assert check.status == "unknown"
    assert "exit status 1" in (check.error or "") and "not a dynamic executable" in (check.error or "")


@linux_only
def test_ldd_saying_nothing_useful_means_unknown(tmp_path: Path, plugin: Path) -> None:
    check = check_xcb_plugin(plugin, fake_ldd(tmp_path, "echo hello"), "linux")
    assert check.status == "unknown"
    assert "no list of libraries" in (check.error or "")


@linux_only
def test_ldd_failing_but_naming_missing_libraries_still_counts(tmp_path: Path, plugin: Path) -> None:
    (tmp_path / "out.txt").write_text(LDD_MUSL)
    check = check_xcb_plugin(plugin, fake_ldd(tmp_path, f"cat {tmp_path / 'out.txt'}; exit 127"), "linux")
    assert check.missing == ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")


@linux_only
def test_ldd_hanging_times_out(tmp_path: Path, plugin: Path) -> None:
    output, error = run_ldd(plugin, fake_ldd(tmp_path, "exec sleep 5"), timeout=0.3)
    assert output == "" and error == "ldd did not answer within 0.3 s"


def test_not_linux_means_unknown_without_running_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display, "run_ldd", lambda *a, **k: pytest.fail("ldd was run"))
    for platform in ("darwin", "win32"):
        assert check_xcb_plugin(platform=platform) == XcbCheck(None, error="only Linux uses Qt's xcb plugin")


def test_no_plugin_means_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display, "find_xcb_plugin", lambda: None)
    check = check_xcb_plugin(platform="linux")
    assert check.status == "unknown" and "was not found" in (check.error or "")


# --- finding the plugin -----------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["Qt/plugins/platforms", "plugins/platforms", "lib/qt6/plugins/platforms"])
def test_the_plugin_is_found_in_any_layout(tmp_path: Path, layout: str) -> None:
    package = tmp_path / "PySide6"
    (package / layout).mkdir(parents=True)
    (package / layout / "libqxcb.so").write_bytes(b"")
    (package / layout / "libqoffscreen.so").write_bytes(b"")
    assert find_xcb_plugin({}, [package]) == package / layout / "libqxcb.so"


def test_the_plugin_path_variable_comes_first_and_nothing_found_is_none(tmp_path: Path) -> None:
    package = tmp_path / "PySide6"
    (package / "Qt/plugins/platforms").mkdir(parents=True)
    (package / "Qt/plugins/platforms/libqxcb.so").write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/libqxcb.so").write_bytes(b"")
    environ = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(tmp_path / "elsewhere")}
    assert find_xcb_plugin(environ, [package]) == tmp_path / "elsewhere/libqxcb.so"
    assert find_xcb_plugin({}, [tmp_path / "empty"]) is None
    assert find_xcb_plugin({}, []) is None


def test_finding_the_plugin_does_not_import_pyside6() -> None:
    code = ("import sys; from faceorganizer import display; display.find_xcb_plugin(); "
            "display.check_xcb_plugin(); print('PySide6' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("ldd") is None,
                    reason="needs Linux and ldd")
def test_the_real_check_agrees_with_ldd_on_this_machine() -> None:
    """True whether or not the libraries are installed here: compares with ldd's own words."""
    plugin = find_xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so" and "PySide6" in plugin.parts
    printed = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=True).stdout
    expected = {line.split("=>")[0].strip() for line in printed.splitlines()
                if line.strip().endswith("=> not found")}
    check = check_xcb_plugin()
    assert check.error is None
    assert check.plugin == plugin
    assert set(check.missing) == expected
    assert len(check.missing) == len(expected)
    assert check.status == ("missing" if expected else "ok")


# --- when the check applies, and what the user sees -------------------------------------------

@pytest.mark.parametrize(("environ", "used"), [
    ({"DISPLAY": ":0"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb:nograb"}, True),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-9"}, True),  # no such socket: Qt falls back to xcb
    ({}, False),
])
def test_when_the_xcb_plugin_would_be_used(environ: dict[str, str], used: bool) -> None:
    assert xcb_would_be_used(environ, "linux") is used


def test_a_reachable_wayland_display_is_tried_first(tmp_path: Path) -> None:
    (tmp_path / "wayland-0").write_bytes(b"")
    environ = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert xcb_would_be_used(environ, "linux") is False
    absolute = {"DISPLAY": ":0", "WAYLAND_DISPLAY": str(tmp_path / "wayland-0")}
    assert xcb_would_be_used(absolute, "linux") is False
    assert xcb_would_be_used({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "darwin") is False


@pytest.fixture
def fresh_ubuntu(monkeypatch: pytest.MonkeyPatch, plugin: Path) -> Path:
    """An X11 session on Ubuntu, not as root, where ldd says the three libraries are missing."""
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM_PLUGIN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(display, "find_xcb_plugin", lambda: plugin)
    monkeypatch.setattr(display, "run_ldd", lambda path, ldd=None: (LDD_FRESH_DESKTOP, None))
    monkeypatch.setattr(display, "read_os_release", lambda: parse_os_release(UBUNTU))
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    monkeypatch.setattr(display, "x_server_reachable", lambda name: True)
    return plugin


EXPECTED_MESSAGE = (
    "The window cannot open: Qt's X11 (xcb) platform plugin needs system libraries that are missing: "
    "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1.\n"
    "Install them with:\n"
    "  sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1\n"
    "then start faceorganizer again.\n"
    "(The command line works without them: faceorganizer --help.)")


def test_display_problem_names_the_libraries_and_the_command(fresh_ubuntu: Path) -> None:
    from faceorganizer.gui.app import display_problem

    assert display_problem() == EXPECTED_MESSAGE


def test_starting_the_window_stops_with_the_message_and_status_2(
        fresh_ubuntu: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from faceorganizer.gui.app import display_problem, main

    assert display_problem() is not None  # else main() would go on and let Qt abort this process
    assert main() == 2
    assert capsys.readouterr().err == f"faceorganizer: {EXPECTED_MESSAGE}\n"


def test_display_problem_is_quiet_when_nothing_is_missing(
        fresh_ubuntu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceorganizer.gui.app import display_problem

    monkeypatch.setattr(display, "run_ldd", lambda path, ldd=None: (LDD_ALL_FOUND, None))
    assert display_problem() is None
    monkeypatch.setattr(display, "run_ldd", lambda path, ldd=None: ("", "ldd is not installed"))
    assert display_problem() is None  # cannot tell: Qt has its say


def test_display_problem_skips_the_check_off_xcb(fresh_ubuntu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceorganizer.gui.app import display_problem

    monkeypatch.setattr(display, "run_ldd", lambda *a, **k: pytest.fail("ldd was run"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem() is None
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("DISPLAY")
    assert "There is no display" in (display_problem() or "")


def test_display_problem_with_unknown_libraries_on_an_unknown_platform(
        fresh_ubuntu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceorganizer.gui.app import display_problem

    monkeypatch.setattr(display, "read_os_release", lambda: {"ID": "gentoo"})
    monkeypatch.setattr(display, "run_ldd", lambda path, ldd=None: ("\tlibweird.so.3 => not found\n", None))
    problem = display_problem() or ""
    assert "missing: libweird.so.3." in problem
    assert "Install the packages of your system that provide them" in problem
    assert "sudo" not in problem


# --- doctor -----------------------------------------------------------------------------------

def test_the_doctor_report_and_its_text(fresh_ubuntu: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from faceorganizer.cli.doctor import print_display

    report = display.display_report()
    assert report == {
        "status": "missing", "plugin": str(fresh_ubuntu), "missing": list(THE_THREE),
        "packages": ["libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"], "unmapped": [],
        "command": "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1",
        "os_family": "debian", "error": None, "uses_xcb": True,
        "environment": {"DISPLAY": ":0", "WAYLAND_DISPLAY": None, "QT_QPA_PLATFORM": None}}
    print_display(report)
    assert capsys.readouterr().out == (
        "window: CANNOT OPEN on X11 - missing libraries: "
        "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1\n"
        "  install them with: sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1\n")


def test_the_doctor_text_when_fine_unknown_or_unmapped(capsys: pytest.CaptureFixture[str]) -> None:
    from faceorganizer.cli.doctor import print_display

    print_display({"status": "ok"})
    print_display({"status": "unknown", "error": "ldd is not installed"})
    print_display({"status": "missing", "missing": ["libweird.so.3"], "command": None,
                   "unmapped": ["libweird.so.3"]})
    assert capsys.readouterr().out.splitlines() == [
        "window: can open (Qt's X11 plugin finds all its libraries)",
        "window: not checked - ldd is not installed",
        "window: CANNOT OPEN on X11 - missing libraries: libweird.so.3",
        "  no package known for libweird.so.3: install the packages of your system that provide it",
    ]


def test_full_report_has_the_display_section_and_keeps_the_others(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    from faceorganizer import doctor

    monkeypatch.setattr(doctor, "device_report", lambda device: {"chosen": "cpu"})
    monkeypatch.setattr(doctor, "weights_report", lambda: {"ok": True})
    monkeypatch.setattr(doctor, "library_report", lambda path: {"path": str(path)})
    monkeypatch.setattr(doctor, "display_report", lambda: {"status": "ok"})
    report = doctor.full_report(tmp_path / "l.sqlite")
    assert list(report) == ["faceorganizer", "python", "platform", "packages", "device", "weights",
                            "library", "display"]
    assert report["display"] == {"status": "ok"}


UNIX_TABLE = """Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 20913 @/tmp/.X11-unix/X7
0000000000000000: 00000002 00000000 00010000 0001 01 20914 /run/dbus/system_bus_socket
garbage line without fields
"""


@pytest.mark.parametrize(("name", "number"), [(":0", 0), (":1.0", 1), ("unix:2", 2), (":12.3", 12),
                                              ("host:0", None), ("localhost:10.0", None), ("", None),
                                              (":x", None), ("::1:0", None)])
def test_local_display_numbers(name: str, number: int | None) -> None:
    assert display.local_display_number(name) == number


def test_an_x_server_is_found_by_its_socket_file_or_abstract_socket(tmp_path: Path) -> None:
    sockets = tmp_path / "x11"
    sockets.mkdir()
    (sockets / "X3").write_bytes(b"")
    table = tmp_path / "unix"
    table.write_text(UNIX_TABLE.replace("/tmp/.X11-unix", str(sockets)))
    assert display.x_server_reachable(":3", str(sockets), table)  # the file
    assert display.x_server_reachable(":7.0", str(sockets), table)  # only the abstract socket
    assert not display.x_server_reachable(":99", str(sockets), table)
    assert display.x_server_reachable("remote:0", str(sockets), table)  # cannot tell: not missing
    assert display.x_server_reachable(":99", str(sockets), tmp_path / "no-proc")  # cannot tell


def test_a_display_with_no_x_server_is_said_so_not_blamed_on_a_library(
        fresh_ubuntu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by looking: with DISPLAY=:99 and no X server there, Qt says xcb-cursor0 is needed
    (which was installed) and aborts."""
    from faceorganizer.gui.app import display_problem

    monkeypatch.setattr(display, "x_server_reachable", lambda name: name != ":0")
    message = display_problem() or ""
    assert message.startswith("The window cannot open: no X server is running on the display :0")
    assert "xcb" not in message
