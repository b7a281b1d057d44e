"""Untrusted files into what a worker grades; no code of a submission runs here.

    unpack    archives, with limits, never outside their folder
    collect   a folder, zip or LMS download into <student>/<assignment>/ with safe, never-merging ids
    precheck  a notebook's bytes parsed once, matched to the expected notebooks; the pre-run scan
    restore   the notebook to grade: the release with the student's own cells put in

These run in an unprivileged worker (autograder/pipeline/workers.py), never in the grading process, and
never import autograder.pipeline.
"""
