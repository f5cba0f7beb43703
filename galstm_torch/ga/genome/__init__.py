"""The genome: its encoding as a masked integer population tensor, and the GA's operators."""
