# Generates testdata/order_cases.json for TestExecutionOrderOracle: random
# acyclic prompts of "Op" (plain) and "Out" (OUTPUT_NODE) nodes, and the order
# in which ComfyUI v0.27.0's ExecutionList (comfy_execution/graph.py,
# including ux_friendly_pick_node) stages their nodes.
#
# Run with ComfyUI's comfy_execution/{graph,graph_utils}.py importable and a
# stub "nodes" module (NODE_CLASS_MAPPINGS filled below):
#     python3 order_oracle.py > order_cases.json
import asyncio, json, random
import nodes
from comfy_execution.graph import DynamicPrompt, ExecutionList

def make_class(output):
    attrs = {"INPUT_TYPES": classmethod(lambda cls: {"required": {}}), "FUNCTION": "run", "run": lambda self: None}
    if output:
        attrs["OUTPUT_NODE"] = True
    return type("C", (), attrs)

nodes.NODE_CLASS_MAPPINGS["Op"] = make_class(False)
nodes.NODE_CLASS_MAPPINGS["Out"] = make_class(True)

class NoCache:
    def get_local(self, node_id): return None
    def set_local(self, node_id, value): pass

def random_prompt(rng):
    n = rng.randint(2, 14)
    ids = [str(i) for i in rng.sample(range(1, 40), n)]
    prompt = {}
    for i, node_id in enumerate(ids):
        inputs = {}
        if i > 0:
            for k in range(rng.randint(0, 3)):
                name = rng.choice(["a", "b", "c", "d", "images", "x"]) + str(k)
                inputs[name] = [rng.choice(ids[:i]), 0]
        cls = "Out" if (i > 0 and rng.random() < 0.3) else "Op"
        prompt[node_id] = {"class_type": cls, "inputs": inputs}
    outs = [k for k, v in prompt.items() if v["class_type"] == "Out"]
    if not outs:
        last = ids[-1]
        prompt[last]["class_type"] = "Out"
        outs = [last]
    rng.shuffle(outs)
    return prompt, outs

async def order_of(prompt, outputs):
    el = ExecutionList(DynamicPrompt(prompt), NoCache())
    for o in outputs:
        el.add_node(o)
    order = []
    while not el.is_empty():
        node_id, error, _ = await el.stage_node_execution()
        assert error is None
        order.append(node_id)
        el.complete_node_execution()
    return order

async def main():
    rng = random.Random(20260707)
    cases = []
    for _ in range(60):
        prompt, outputs = random_prompt(rng)
        cases.append({"prompt": prompt, "outputs": outputs, "order": await order_of(prompt, outputs)})
    print(json.dumps(cases, indent=1))

asyncio.run(main())
