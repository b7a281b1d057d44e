"""The grader's code that runs inside the student's kernel: the only part of the grader the sandbox mounts.

    server   answers the grader's requests during a test cell (look up, call, plain values only)
    wire     what may cross the boundary: plain values as JSON, bounded in depth, items and bytes

Nothing here trusts anything, and nothing here imports the rest of the grader: numpy and the standard
library only (tests/grader/test_layout.py checks it).
"""
