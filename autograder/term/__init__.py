"""Running a term around the grading: the calendar, statistics, LMS import files, similarity.

    calendar    due dates, late policy, extensions (one TOML file); penalties and the students' deadlines
    data        a grading output folder read back (grades.csv, report.json, results/)
    stats       the statistics page and the per-student overviews
    lms         Moodle's and Canvas's own export files, filled with the final scores
    similarity  pairs of submissions (and rnncore) with unusually similar solution cells

They read what a grading run wrote; none of them writes the gradebook.
"""
