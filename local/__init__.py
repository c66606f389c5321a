"""The local stack: everything the product needs to run on one machine with no AWS account.

``apple_pki`` (an Apple-like certificate authority for tests and demos), the APNs sandbox, AWS emulation
through moto's server, and the API + SQS runner that invokes the real Lambda handlers.
"""
