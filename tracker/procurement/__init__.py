"""Procurement Act 2023 notices and transparency publications, made from the data the tracker already holds."""
