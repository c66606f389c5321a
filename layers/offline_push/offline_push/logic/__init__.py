"""The product's rules: certificate checks, formatting, registration policy, dispatch. No boto3 here."""
