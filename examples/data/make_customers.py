#!/usr/bin/env python3
"""Writes a messy customer table for the data-quality examples and benchmark.

Deterministic for a given --seed and --rows. Every anomaly kind dq.detect_anomalies knows is
in it: nulls, malformed emails (some only by stray spaces), age and income outliers, exact
duplicate rows, and countries spelt with different case or spacing.

    python3 examples/data/make_customers.py --rows 3000 --out examples/data/customers.csv
"""

import argparse
import csv
import datetime
import random

FIRST = ["Ann", "Ben", "Chloe", "Dan", "Eva", "Finn", "Gita", "Hugo", "Ines", "Jon",
         "Kira", "Leo", "Mia", "Nils", "Olga", "Paul", "Rosa", "Sam", "Tara", "Umar"]
LAST = ["Lee", "Smith", "Garcia", "Novak", "Berg", "Khan", "Rossi", "Dubois", "Silva",
        "Meyer", "Ito", "Kowalski", "Nagy", "Okafor", "Popescu", "Quinn"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]
COUNTRIES = ["US", "Germany", "France", "India", "Brazil", "Japan"]
COUNTRY_WEIGHTS = [30, 20, 15, 15, 10, 10]
START = datetime.date(2020, 1, 1)


def blank_sometimes(rng, value, share):
    return "" if rng.random() < share else value


def messy_country(rng, country):
    roll = rng.random()
    if roll < 0.02:
        return country.lower()
    if roll < 0.04:
        return " " + country
    if roll < 0.05:
        return country.upper() + " "
    return country


def messy_email(rng, email):
    roll = rng.random()
    if roll < 0.006:
        return email.replace("@", "")
    if roll < 0.012:
        return email.split("@")[0] + "@"
    if roll < 0.018:
        return email.replace(".", " ", 1)
    if roll < 0.024:
        return " " + email.title() + " "
    return email


def row(rng, index):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{first}.{last}{index}@{rng.choice(DOMAINS)}".lower()
    age = max(18, min(90, round(rng.gauss(41, 12))))
    if rng.random() < 0.004:
        age = rng.choice([-3, 150, 230, 999])
    income = round(max(8000.0, rng.gauss(52000, 15000)), 2)
    if rng.random() < 0.004:
        income = round(income * 100, 2)
    country = rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
    signup = START + datetime.timedelta(days=rng.randrange(1826))
    return [
        index,
        blank_sometimes(rng, f"{first} {last}", 0.01),
        blank_sometimes(rng, messy_email(rng, email), 0.02),
        blank_sometimes(rng, age, 0.03),
        blank_sometimes(rng, income, 0.03),
        blank_sometimes(rng, messy_country(rng, country), 0.02),
        signup.isoformat(),
        rng.random() < 0.7,
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    written = []
    with open(args.out, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "name", "email", "age", "income", "country", "signup_date", "active"])
        for index in range(1, args.rows + 1):
            # About 2% of rows repeat an earlier row exactly.
            if written and rng.random() < 0.02:
                record = rng.choice(written)
            else:
                record = row(rng, index)
                if len(written) < 10_000:
                    written.append(record)
            writer.writerow(record)


if __name__ == "__main__":
    main()
