"""A grading run, in the instructor's process: the only code that writes the course gradebook.

    grade      the run: settings, intake, jobs, recording, grades.csv and report.json
    executors  where jobs run: workers here, or a Dask cluster
    workers    the server, supervisors and workers, and who may write what
    gradebook  nbgrader's gradebook: checks, records, the parts CSV, the calendar's penalties
    report     report.json and the summary printed
"""
