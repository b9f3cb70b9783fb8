"""What the spec servers share (capture_server.py, scripted_server.py,
tls_server.py, dovecot.py, check_peers.py): the process hygiene every one
of them needs as a child of the test runner, and the atomic writes its
readers poll for.

Standard library only: scripted_server.py runs without aiosmtpd.
"""

import os
import signal
import threading
import time


def close_inherited_fds():
    """Close sockets and pipes inherited from the test runner.

    LuaSocket does not set FD_CLOEXEC, so a client socket the spec holds
    while starting a server would otherwise stay open in this process, and
    closing it in Lua would not close the connection.
    """
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in fds:
        fd = int(name)
        if fd <= 2:
            continue
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue
        if target.startswith(("socket:", "pipe:")):
            try:
                os.close(fd)
            except OSError:
                pass


def write_atomic(path, data):
    """Write bytes to path via a temporary file and rename, so a reader
    polling for path never sees a partial file."""
    tmp = "{}.tmp.{}".format(path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def write_port(directory, port):
    """DIR/port, the file spec/helper.lua waits for once we listen."""
    write_atomic(os.path.join(directory, "port"), "{}\n".format(port).encode())


def process_gone(pid):
    """True if pid has exited. A zombie counts as gone: PID 1 in the test VM
    does not reap orphans, so a dead runner can linger as one."""
    try:
        with open("/proc/{}/stat".format(pid), "rb") as f:
            stat = f.read()
    except OSError:
        return True
    state = stat[stat.rindex(b")") + 2:][:1]
    return state in (b"Z", b"X")


def watch_pid(pid):
    """Backstop: terminate ourselves once the test runner (pid) is gone.
    The helper starts us as the runner's direct child, so being reparented
    also means it died."""
    was_child = os.getppid() == pid

    def loop():
        while True:
            time.sleep(0.5)
            if (was_child and os.getppid() != pid) or process_gone(pid):
                os.kill(os.getpid(), signal.SIGTERM)
                return
    threading.Thread(target=loop, daemon=True).start()


def startup(parse_args, argv):
    """What a server does first: drop what it inherited, read its options,
    and (with --watch-pid) watch the test runner. Returns the options."""
    close_inherited_fds()
    args = parse_args(argv)
    if args.watch_pid:
        watch_pid(args.watch_pid)
    return args


def wait_line(path, gone, timeout=10):
    """Poll for path (written by write_atomic, ending in a newline) until
    timeout seconds pass or gone() is true. Returns its text without the
    line end, or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return text.strip()
        except OSError:
            pass
        if gone():
            return None
        time.sleep(0.02)
    return None
