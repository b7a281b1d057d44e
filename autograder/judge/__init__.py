"""One submission, graded in an unprivileged worker.

    worker    a job from input.json to result.json: the intake pass, nbgrader's autograde, feedback
    execute   nbgrader's Execute, with every test cell judged outside the kernel
    verdict   a test cell's source run in the worker, calling the student's functions remotely
    remote    the worker's end of the kernel: calls that go one way, plain values only
    sandbox   the kernel's sandbox (bubblewrap, cgroups) and the launcher that starts it
    feedback  feedback pages that are safe to open

Never imports autograder.pipeline; never writes the course gradebook (only the job's private copy).
"""
