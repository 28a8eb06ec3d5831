"""Routing: turns feedback into cases, classifies complaints, routes them and holds their deadlines."""
