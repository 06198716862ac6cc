//! calls.csv: rejects, rates per frame and combined, reconciliation.
