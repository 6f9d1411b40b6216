"""A tiny hand-written corpus with unambiguous paraphrase queries, for the dense tests."""

from __future__ import annotations

from promptops.rag import Chunk, Document

SMALL_DOCS = [
    Document("cats", "", "Cats are small domestic felines that purr and hunt mice."),
    Document("bread", "", "To bake bread, knead flour, water, yeast and salt, then let it rise."),
    Document("jupiter", "", "Jupiter is the largest planet in the solar system, a gas giant."),
    Document("python", "", "Python is a programming language known for readable syntax."),
    Document("rain", "", "Rain forms when water vapour condenses into droplets in clouds."),
    Document("piano", "", "The piano is a keyboard instrument with hammers striking strings."),
    Document("football", "", "Football teams score goals by kicking the ball into the net."),
    Document("vaccine", "", "Vaccines train the immune system to recognise a virus."),
    Document("coffee", "", "Coffee is brewed from roasted beans and contains caffeine."),
    Document("glacier", "", "Glaciers are slow rivers of ice that carve valleys in mountains."),
    Document("bitcoin", "", "Bitcoin is a decentralised digital currency secured by a blockchain."),
    Document("wing", "Wings", "Aircraft wings generate lift from a pressure difference."),
]

# query -> the one document it paraphrases
SMALL_QUERIES = {
    "which pet animal meows and catches rodents": "cats",
    "how do I make a loaf at home": "bread",
    "biggest planet orbiting the sun": "jupiter",
    "a coding language with clean code": "python",
    "why does precipitation fall from the sky": "rain",
    "musical instrument with black and white keys": "piano",
    "soccer match scoring": "football",
    "how immunisation protects against disease": "vaccine",
    "a caffeinated morning drink": "coffee",
    "rivers of ice in the mountains": "glacier",
    "cryptocurrency on a distributed ledger": "bitcoin",
    "how do airplanes stay up in the air": "wing",
}


def small_chunks() -> list[Chunk]:
    from promptops.rag import chunk_corpus

    return chunk_corpus(SMALL_DOCS, None)
