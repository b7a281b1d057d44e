"""The grader's end of a graded kernel: student functions as local objects that run remotely.

A test cell runs in the trusted grader process. The names it uses that the notebook defines
(`sigmoid`, `lstm_forward`, a class `SGD`) are bound to `StudentObject`s: calling one sends the
grader's arguments to the kernel (autograder.kernel.server), which calls the student's object and
sends back plain values (autograder.kernel.wire). Nothing else comes back: what the student's code returns
is either a plain value (arrays, numbers, strings, tuples, lists, dicts) or stays in the kernel as a
handle (another StudentObject). The reference, the expected values and the verdict never leave
this process.

Calls go one way. What a test sends to the kernel is plain values, handles of the kernel's own
objects, and the functions the test offers explicitly (`testing.callback(fn)`,
`testing.callback_object(init=..., step=...)`); any other object of the grader is refused before it
is sent. The student's code may call an offered function with plain values (or the test's own
callbacks, handed back) and gets a plain value back; anything else fails the test with a message
(`CallbackFault`). No attribute, method or return value of any other object of the grader is
reachable from the kernel.

One test cell is one session: an execute_request of `serve()`, during which requests and replies
go through the kernel's stdin channel (input_reply carries a request, the next input_request the
reply). A test's own functions and objects passed to the student's code are called back the same
way. Every request has a deadline: past it the kernel is interrupted, and a kernel that does not
answer the interrupt is treated as dead.
"""
import builtins
import json
import queue
import time

import numpy as np
import zmq
from jupyter_client.blocking import BlockingKernelClient

from .. import testing
from ..kernel import server as kernel_server
from ..kernel import wire

MAX_MESSAGE_BYTES = 64 * 2 ** 20        # a larger reply from the kernel is dropped (the call then times out)
INTERRUPT_GRACE = 5.0                   # seconds a kernel has to answer an interrupt
SERVER = f"__import__({kernel_server.__name__!r}, fromlist=['serve'])"   # code the kernel runs
# Exceptions of the student's code that keep their type in the grader (tests may catch them by type).
BUILTIN_ERRORS = {name: getattr(builtins, name) for name in (
    "ArithmeticError", "FloatingPointError", "OverflowError", "ZeroDivisionError", "ValueError", "TypeError",
    "IndexError", "KeyError", "LookupError", "AttributeError", "NameError", "UnboundLocalError",
    "NotImplementedError", "RuntimeError", "RecursionError", "MemoryError", "AssertionError", "ImportError",
    "ModuleNotFoundError")}


class StudentError(Exception):
    """The student's code raised an exception the grader does not recreate by type."""


class CallTimeout(Exception):
    """The student's code ran past the cell's time limit and was interrupted."""


class NotOffered(TypeError):
    """A test tried to send the student's code an object of the grader that it did not offer as a callback."""


class CallbackFault(AssertionError):
    """A function the test offered was called with, or returned, something that is not a plain value."""


class KernelGone(Exception):
    """The kernel died, or stopped answering (even after an interrupt: `ignored_interrupt`)."""

    def __init__(self, message, ignored_interrupt=False):
        super().__init__(message)
        self.ignored_interrupt = ignored_interrupt


class StudentObject:
    """An object of the notebook (function, class, instance, cache) that stays in the kernel."""

    def __init__(self, remote, ident, label):
        self._remote, self._ident, self.__name__ = remote, ident, label

    def __call__(self, *args, **kwargs):
        return self._remote.call(self._ident, args, kwargs, self.__name__)

    def call_many(self, calls, select=None):
        """[self(*args, **kwargs)[select] for args, kwargs in calls], in one request to the kernel."""
        return self._remote.call_many(self._ident, calls, select, self.__name__)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._remote.getattr(self._ident, name, f"{self.__name__}.{name}")

    def __repr__(self):
        return f"<{self.__name__} of the student's notebook>"


def connect(connection_info, timeout=30.0):
    """A BlockingKernelClient on the kernel's shell and stdin channels, connected before it is returned.

    The kernel sends its prompts from a ROUTER socket, which drops messages for a peer it does not
    know yet, so no session may start before the stdin connection exists. With ZMQ_IMMEDIATE, a
    socket is writable only once a connection is complete: wait for that, then for a kernel_info
    round trip. Replies larger than MAX_MESSAGE_BYTES are refused by ZMQ itself.
    """
    context = zmq.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    context.setsockopt(zmq.IMMEDIATE, 1)
    channel = BlockingKernelClient(context=context)
    channel.load_connection_info(connection_info)
    channel.start_channels(shell=True, iopub=False, stdin=True, hb=False, control=False)
    for socket in (channel.shell_channel.socket, channel.stdin_channel.socket):
        if not socket.poll(timeout * 1000, zmq.POLLOUT):
            raise KernelGone("the kernel did not accept the grader's connection")
    channel.kernel_info()
    channel.get_shell_msg(timeout=timeout)
    return channel


class Remote:
    """Sessions with one graded kernel. `channel` is a BlockingKernelClient made ready by `connect`."""

    def __init__(self, channel, interrupt, is_alive):
        self.channel, self.interrupt, self.is_alive = channel, interrupt, is_alive
        self.deadline = float("inf")         # set per test cell by the executor
        self.notes = []                      # warnings and prints of the student's code, for the feedback
        self._callbacks = {}
        self._session = None                 # msg_id of the running serve(), or None
        self._busy = False
        self.requests, self.seconds = 0, 0.0  # what the remote calls cost (for the benchmarks)

    # --- a session per test cell --------------------------------------------------------------------
    def open(self):
        self.notes, self._callbacks, self._fault = [], {}, None
        self._session = self.channel.execute(f"{SERVER}.serve()", silent=True, store_history=False,
                                             allow_stdin=True)
        self._check(self._next_reply(), "the notebook")

    def close(self):
        """End the session (the kernel drops its handles); True if the kernel is still usable."""
        if self._session is None:
            return True
        session, self._session = self._session, None
        self.channel.input(json.dumps({"op": "stop"}))
        end = time.monotonic() + INTERRUPT_GRACE
        while time.monotonic() < end:
            try:
                reply = self.channel.get_shell_msg(timeout=0.5)
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == session:
                return True
        return False

    # --- the requests -------------------------------------------------------------------------------
    def lookup(self, names):
        """{name: value or StudentObject} for the names the notebook defines (others are left out)."""
        found = self._request({"op": "lookup", "names": sorted(names)})["found"]
        if type(found) is not dict:
            raise wire.WireError("malformed lookup reply")
        return {name: self._decode(value, name, named=True) for name, value in found.items() if name in names}

    def call(self, ident, args, kwargs, label):
        answer = self._request({"op": "call", "target": ident, "args": self._encode(list(args)),
                                "kwargs": self._encode(dict(kwargs)), "errstate": np.geterr()}, label)
        self._note(label, answer)
        changed = answer.get("changed", [])
        if changed:                                     # the grader's inputs stay as they were; the call fails
            names = ", ".join(f"argument {k + 1}" if type(k) is int else f"argument {str(k)[:40]}" for k in changed[:5])
            raise AssertionError(f"{label} changed its input in place ({names}): the functions of this course never "
                                 "change their arguments; compute new arrays (no -=, *=, out=..., x[...] = ...)")
        return self._decode(answer["value"], label)

    def call_many(self, ident, calls, select, label):
        wire_calls = [[self._encode(list(args)), self._encode(dict(kwargs))] for args, kwargs in calls]
        answer = self._request({"op": "call_many", "target": ident, "calls": wire_calls, "select": select,
                                "errstate": np.geterr()}, label)
        self._note(label, answer)
        values = self._decode(answer["value"], label)
        if type(values) is not list or len(values) != len(calls):
            raise wire.WireError(f"{label}: malformed reply to a batch of calls")
        return values

    def getattr(self, ident, name, label):
        return self._decode(self._request({"op": "getattr", "target": ident, "name": name}, label)["value"], label)

    # --- encoding -----------------------------------------------------------------------------------
    def _offer(self, value):
        """The wire form of what a test may send besides plain values: the kernel's own objects and callbacks."""
        if type(value) is StudentObject and value._remote is self:
            return {"t": "handle", "id": value._ident}
        if type(value) is testing.Callback:
            return {"t": "callback", "id": self._register(value)}
        if type(value) is testing.CallbackObject:
            return {"t": "callbacks", "methods": {name: self._register(c) for name, c in vars(value).items()}}
        name = getattr(value, "__name__", type(value).__name__)
        raise NotOffered(f"the test tried to pass {str(name)[:60]} to the student's code; a test hands over "
                         "plain values, or its own functions wrapped in callback() / callback_object()")

    def _register(self, callback):
        for ident, known in self._callbacks.items():
            if known is callback:
                return ident
        self._callbacks[len(self._callbacks) + 1] = callback
        return len(self._callbacks)

    def _encode(self, value):
        return wire.encode(value, self._offer)

    def _decode(self, data, label, named=False):
        """A value from the kernel: plain values, and handles of the kernel's objects (never a grader object)."""
        def resolve(item):
            if item["t"] == "handle":
                return StudentObject(self, item["id"], label if named else f"an object returned by {label}")
            raise wire.WireError(f"{label} sent back a function of the test; only plain values come back")
        return wire.decode(data, resolve)

    def _callback_arguments(self, data):
        """A callback's arguments: plain values, or the test's own callbacks handed back (nothing of the kernel's)."""
        def resolve(item):
            if item["t"] == "callback" and item["id"] in self._callbacks:
                return self._callbacks[item["id"]]
            if item["t"] == "callbacks" and all(i in self._callbacks for i in item["methods"].values()):
                return testing.CallbackObject({n: self._callbacks[i].function for n, i in item["methods"].items()})
            raise wire.WireError("the student's code passed an object of its own (not a plain value) to a "
                                 "function of the test")
        return wire.decode(data, resolve)

    def _note(self, label, answer):
        for note in answer.get("notes", [])[:3]:
            self.notes.append(f"note: {label} emitted {str(note)[:300]}")
        if answer.get("printed"):
            self.notes.append(f"{label} printed: {str(answer['printed'])[:1000]}")

    # --- one request: an input_reply out, input_requests in until the reply -------------------------
    def _request(self, payload, label="the notebook"):
        if self._session is None:
            raise RuntimeError("no session with the kernel: the student's code can be called only from a test cell")
        if self._busy:
            raise RuntimeError("a test's callback cannot call the student's code again")
        self._busy = True
        started = time.perf_counter()
        try:
            self.channel.input(json.dumps(payload))
            reply = self._next_reply()
        finally:
            self._busy = False
            self.requests += 1
            self.seconds += time.perf_counter() - started
        if self._fault:                         # a refused callback decides the test, whatever the kernel answered
            fault, self._fault = self._fault, None
            raise CallbackFault(f"{label}: {fault}")
        return self._check(reply, label)

    def _check(self, answer, label):
        if not answer.get("ok"):
            raise _student_error(answer.get("error"), label)
        return answer

    def _next_reply(self):
        """Wait for the kernel's next reply prompt, answering callback prompts on the way."""
        socket = self.channel.stdin_channel.socket
        interrupted_at = None
        while True:
            now = time.monotonic()
            if interrupted_at is None and now > self.deadline:
                self.interrupt()
                interrupted_at = now
            elif interrupted_at is not None and now > interrupted_at + INTERRUPT_GRACE:
                self._session = None
                raise KernelGone("the kernel ran past the time limit and ignored the interrupt", ignored_interrupt=True)
            if not socket.poll(500):
                if not self.is_alive():
                    self._session = None
                    raise KernelGone("the kernel died (crash, exit or memory limit)")
                continue
            message = self.channel.stdin_channel.get_msg(timeout=0)
            if message["msg_type"] != "input_request":
                continue
            prompt = _parse_prompt(message["content"].get("prompt", ""))
            if prompt.get("kind") == "callback":
                self.channel.input(json.dumps(self._callback(prompt)))
                continue
            if interrupted_at is not None:
                raise CallTimeout("past the time limit: interrupted")
            return prompt

    def _callback(self, request):
        """Call a function the test offered, for the student's code; always answers, with a plain value or an error.

        A call the grader refuses (not a call, an unknown function, arguments or a result that are not
        plain) also fails the test, with the reason (CallbackFault after the request)."""
        try:
            if request.get("op") != "call" or request.get("target") not in self._callbacks:
                raise wire.WireError("the student's code asked for something other than a call of a function "
                                     "the test offered")
            target = self._callbacks[request["target"]]
            args, kwargs = self._callback_arguments(request.get("args")), self._callback_arguments(request.get("kwargs"))
            if type(args) is not list or type(kwargs) is not dict:
                raise wire.WireError("malformed arguments of a callback")
        except wire.WireError as exc:
            self._fault = self._fault or str(exc)
            return {"ok": False, "error": {"type": "TypeError", "message": str(exc)[:500]}}
        try:
            value = target(*args, **kwargs)
        except Exception as exc:                          # the test's function rejected the call: the student sees why
            name = type(exc).__name__ if type(exc).__name__ in BUILTIN_ERRORS else "RuntimeError"
            return {"ok": False, "error": {"type": name, "message": str(exc)[:500]}}
        try:
            return {"ok": True, "value": wire.encode(value, wire.refuse)}
        except wire.WireError as exc:
            self._fault = self._fault or f"a function of the test returned a value that cannot be sent: {exc}"
            return {"ok": False, "error": {"type": "TypeError", "message": "the test's function failed"}}


def _parse_prompt(text):
    """A prompt of the kernel as a dict; anything malformed becomes an error reply."""
    if type(text) is not str or len(text) > MAX_MESSAGE_BYTES:
        text = ""
    try:
        prompt = json.loads(text)
    except (ValueError, RecursionError):
        prompt = None
    if type(prompt) is not dict:
        return {"kind": "reply", "ok": False, "error": {"type": "RuntimeError", "where": "",
                                                         "message": "the kernel sent back something that is not a reply"}}
    return prompt


def _student_error(error, label):
    """The exception to raise in the test for an error of the student's code (by type where it matters)."""
    error = error if type(error) is dict else {}
    name, message, where = (str(error.get(k, ""))[:2000] for k in ("type", "message", "where"))
    text = f"{label} raised {name}: {message}" + (f" ({where})" if where else "")
    error = BUILTIN_ERRORS[name](text) if name in BUILTIN_ERRORS else StudentError(text)
    error.from_student = True                     # the message already names the exception
    return error
