from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.conse import decompose
from glassbox.explain import search_justification
from glassbox.inference import InferenceClient
from glassbox.pipeline import analyze

def test_peek(triton_url, samples):
    s = Settings(); c = InferenceClient(triton_url, 60); bank = ConceptBank.load(s.concept_bank_path)
    for f in ("dog.jpg", "eagle.jpg", "horses.jpg", "person.jpg"):
        r = analyze((samples / f).read_bytes(), c, bank, s)
        print("\n", f, r.width, r.height, r.timings)
        for t in r.tags: print("  ", t.box and tuple(round(v, 2) for v in t.box), t.justification)
        for q in ("dog", "bird", "horse", "bicycle"):
            e = c.embed_texts([q])[0]
            parts = decompose(e, r.semantic.concept_ids, r.semantic.weights, bank.embeddings)
            print("   ", search_justification(q, [(bank.names[i], v) for i, v in parts], float(e @ r.semantic.vector)))
