"""Data access: the only code that calls boto3. Turns AWS failures into the product's exceptions."""
