"""Can the service user reach a folder? Checked as that user (a forked child
that drops to its uid/gid), so ACLs, noexec mounts and group bits count as
the servers will see them, and a refusal names the path, the user and the
folder in the way, with its mode and owner."""
import grp
import json
import os
import pwd
import stat
from pathlib import Path

NEEDS = {os.X_OK: "run", os.R_OK: "read", os.W_OK | os.X_OK: "create files in"}


def _first_problem(checks):
    """As the calling process: the first (path, mode) it cannot do, with the
    folder on the way that it cannot enter (or the path itself)."""
    for path, mode in checks:
        if os.access(path, mode):
            continue
        blocked = path
        for folder in reversed(Path(path).parents):
            if not os.access(folder, os.X_OK):
                blocked = str(folder)
                break
        return {"path": str(path), "mode": mode, "blocked": str(blocked)}
    return None


def _as_user(user, checks):
    """_first_problem run as `user` (a pwd entry) in a forked child."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            os.write(w, json.dumps(_first_problem(checks)).encode())
        except BaseException:
            os.write(w, b'"error"')
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    try:
        while chunk := os.read(r, 65536):
            data += chunk
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    problem = json.loads(data or b'"error"')
    if problem == "error":
        raise RuntimeError(f"could not check the folders as {user.pw_name}")
    return problem


def describe(path):
    """`drwx------ root:root`, or why not."""
    try:
        st = os.stat(path)
    except OSError as e:
        return e.strerror
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"{stat.filemode(st.st_mode)} {owner}:{group}"


def unreachable(checks, user):
    """None when `user` (a pwd entry; None: this process's own user) can do
    every (path, os.access mode) in `checks`; else one sentence saying what it
    cannot do and which folder is in the way."""
    problem = _as_user(user, checks) if user else _first_problem(checks)
    if problem is None:
        return None
    name = user.pw_name if user else pwd.getpwuid(os.geteuid()).pw_name
    path, blocked = problem["path"], problem["blocked"]
    if blocked != path:
        return f"{name} cannot enter {blocked} ({describe(blocked)}), so it cannot reach {path}"
    need = NEEDS.get(problem["mode"], "use")
    why = describe(path)
    try:
        if problem["mode"] & os.X_OK and os.path.isfile(path) and os.statvfs(path).f_flag & os.ST_NOEXEC:
            why += ", on a noexec mount"
    except OSError:
        pass
    return f"{name} cannot {need} {path} ({why})"
