"""offline-push: APNs offline push for instant-messaging backends on AWS.

Layout: ``api`` (interface: parsing requests, shaping answers) -> ``logic`` (the product's rules) ->
``dal`` (data access: the only code that calls boto3) and ``apns`` (the APNs HTTP/2 client). ``models`` holds
the typed records they pass between them.
"""
