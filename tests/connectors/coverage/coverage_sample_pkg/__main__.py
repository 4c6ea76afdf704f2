"""Exercise part of the sample package so that its coverage is partial on purpose."""

from coverage_sample_pkg.grading import clamp, grade

if __name__ == "__main__":
    print(grade(95), grade(50), clamp(-3, low=0, high=10), clamp(4, low=0, high=10))
