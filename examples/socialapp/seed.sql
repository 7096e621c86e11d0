-- Seed data: two tenants; in acme, ada talks with bob and cy, cy talks with dee (outside ada's graph).
insert into workspaces (id, tenant_id, name) values
  ('ws-acme-eng', 'acme', 'Acme Engineering'),
  ('ws-acme-ops', 'acme', 'Acme Operations'),
  ('ws-acme-sales', 'acme', 'Acme Sales'),
  ('ws-globex', 'globex', 'Globex');

insert into users (tenant_id, user_id, workspace_id, display_name, email, api_token, created_at) values
  ('acme', 'ada', 'ws-acme-eng', 'Ada Lovelace', 'ada@acme.example', 'sk_live_4f9a8b7c6d5e4f3a2b1c0d9e', now() - interval '400 days'),
  ('acme', 'bob', 'ws-acme-eng', 'Bob Babbage', 'bob@acme.example', 'sk_live_0a1b2c3d4e5f6a7b8c9d0e1f', now() - interval '300 days'),
  ('acme', 'cy', 'ws-acme-sales', 'Cy Hopper', 'cy@acme.example', 'sk_live_9e8d7c6b5a4f3e2d1c0b9a8f', now() - interval '200 days'),
  ('acme', 'dee', 'ws-acme-ops', 'Dee Turing', 'dee@acme.example', 'sk_live_1111222233334444aaaabbbb', now() - interval '100 days'),
  ('globex', 'eve', 'ws-globex', 'Eve Noether', 'eve@globex.example', 'sk_live_5555666677778888ccccdddd', now() - interval '90 days'),
  ('globex', 'fay', 'ws-globex', 'Fay Curie', 'fay@globex.example', null, now() - interval '80 days');

insert into messages (id, tenant_id, sender_user_id, recipient_user_id, body, created_at) values
  (1, 'acme', 'ada', 'bob', 'Morning Bob, the engine design is ready for review.', now() - interval '10 days'),
  (2, 'acme', 'bob', 'ada', 'Great, I will look at the punch cards today.', now() - interval '9 days 20 hours'),
  (3, 'acme', 'cy', 'ada', 'Can you demo the engine to the customer on Friday?', now() - interval '5 days'),
  (4, 'acme', 'ada', 'cy', 'Yes - Friday 10:00 works.', now() - interval '4 days 23 hours'),
  (5, 'acme', 'dee', 'cy', 'Ops needs the demo room booked.', now() - interval '4 days'),
  (6, 'acme', 'cy', 'dee', 'Booked, thanks Dee.', now() - interval '3 days'),
  (7, 'globex', 'eve', 'fay', 'Quarterly numbers attached.', now() - interval '2 days'),
  (8, 'acme', 'bob', 'cy', 'Old thread from last year.', now() - interval '300 days');
select setval(pg_get_serial_sequence('messages', 'id'), 8);

-- ada reacts to dee's message (dee is outside ada's graph: closure pulls message 5, dee and dee's workspace).
insert into reactions (tenant_id, user_id, message_id, kind, created_at) values
  ('acme', 'bob', 1, 'like', now() - interval '9 days'),
  ('acme', 'ada', 2, 'laugh', now() - interval '9 days'),
  ('acme', 'ada', 3, 'wow', now() - interval '5 days'),
  ('acme', 'ada', 5, 'like', now() - interval '3 days 12 hours'),
  ('acme', 'cy', 4, 'like', now() - interval '4 days');
