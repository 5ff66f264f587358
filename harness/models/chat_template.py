"""The documented default chat template for base models that ship without one.

Why plain text and not ChatML special tokens: a base model has never seen `<|im_start|>`-style
tokens, while "System:/User:/Assistant:" transcripts resemble its pretraining text, so both
DPO training and evaluation prompts stay in-distribution. Training and evaluation use the
same template, which is what matters for value induction.
"""

from __future__ import annotations

DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}System: {{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n\n"
    "{% elif message['role'] == 'assistant' %}Assistant: {{ message['content'] }}{{ eos_token }}\n\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def ensure_chat_template(tokenizer) -> bool:
    """Give `tokenizer` the default template if it has none. Returns True if one was added."""
    if getattr(tokenizer, "chat_template", None):
        return False
    tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    return True
