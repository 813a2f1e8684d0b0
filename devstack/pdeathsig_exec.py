"""Run a command that dies with the process that started it: ``python pdeathsig_exec.py PARENT_PID CMD...``.

Sets ``PR_SET_PDEATHSIG=SIGKILL`` (Linux), then execs CMD in the same process, so the signal
outlives the exec. This is a launcher rather than a ``preexec_fn`` because a pre-exec hook makes
``subprocess`` fork without exec in a threaded parent, and libraries run their fork handlers in
that child: gRPC's restart its poller threads there, which then abort (SIGABRT) when
``close_fds`` closes their epoll descriptor -- 1 to 4 spawns in 300, with a Pub/Sub stream open.
Without a hook, ``subprocess`` uses vfork and no fork handler runs. It imports nothing of ours:
it runs as ``python -I -S`` in the child."""
import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main() -> None:
    parent_pid, command = int(sys.argv[1]), sys.argv[2:]
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    # The parent may have died before prctl(); then no signal would ever come.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"could not run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main()
