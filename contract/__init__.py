"""What the kiosk and the cloud agree on: wire topics and models, money, tenders,
barcode and code classification, the price book, the pricing engine, signing.

Pure Python plus pydantic and cryptography: importing it never pulls in OpenCV,
serial, printer or database libraries. Both programs import it; it imports neither.
"""
