"""Who is calling: admin roles and what each may do, server-side admin sessions, and sign-in flows."""
