module completions {

  # Keep API keys in an encrypted local vault unlocked through the OS keyring
  export extern keyward [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help (see more with '--help')
    --version(-V)             # Print version
  ]

  def "nu-complete keyward init keyring" [] {
    [ "auto" "secret-service" "keyutils" "keychain" "none" ]
  }

  # Create a vault and its key slots
  export extern "keyward init" [
    --keyring: string@"nu-complete keyward init keyring" # Where the vault key is kept on this machine
    --passphrase              # Also protect the vault with a passphrase (asked twice, or KEYWARD_PASSPHRASE_FILE)
    --recovery-key-file: path # Write the recovery key to this file (created 0600); `-` prints it to standard output, alone (everything else goes to standard error)
    --no-recovery             # Make no recovery key. Without a terminal, init refuses unless a recovery key file, a passphrase or this flag leaves a decision about the way back: with it, losing this machine's keyring entry (the kernel keyring loses it at reboot) loses the vault
    --format: string          # Vault format: 2 (a text file for git, environments as key domains) or 1 (the binary format of keyward before format 2, for a team not yet upgraded)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help (see more with '--help')
  ]

  # Store a new secret (value from standard input or a hidden prompt)
  export extern "keyward add" [
    --provider: string        # Provider id (stripe, github, openai, ...) [default: detected from the value]
    --env: string             # Environment: dev, staging, prod or another name
    --var: string             # Environment variable name [default: NAME upper-cased, other characters to _]
    --expires: string         # Expiry: 2027-01-31 (end of that day, UTC), an RFC 3339 time, a duration (90d) or never
    --rotate-every: string    # Rotation policy, a duration (90d) or never [default: 90d]
    --scope: string           # A permission the key carries (repeatable)
    --allow-ip: string        # An address or network allowed to use the key (repeatable)
    --allow-origin: string    # An origin allowed to use the key (repeatable)
    --rate-limit: string      # Rate limit, N/PERIOD (1000/min, 10/s, 5000/hour)
    --tag: string             # A tag (repeatable)
    --note: string            # A free-text note
    --paired-with: string     # The secret holding the other half of a two-part credential (Twilio SID + token, AWS key id + secret)
    --remote: string          # The remote store this secret lives in too (see `keyward remote`): `rotate` stages and promotes there as well (a secret pushed once is linked already)
    --allow-var: string       # Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    --generate                # Generate a random value (OS random generator, URL-safe) instead of reading one
    --length: string          # With --generate: random bytes before encoding
    --prefix: string          # With --generate: text put before the random part (e.g. whk_)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string              # Secret name: letters, digits, '.', '_', '-', '/'
  ]

  # Store a value under a name: `add` for a new name; for an existing one, a staged rotation (pending, verified, promoted), as `rotate NAME`
  export extern "keyward set" [
    --provider: string        # Provider id (stripe, github, openai, ...) [default: detected from the value]
    --env: string             # Environment: dev, staging, prod or another name
    --var: string             # Environment variable name [default: NAME upper-cased, other characters to _]
    --expires: string         # Expiry: 2027-01-31 (end of that day, UTC), an RFC 3339 time, a duration (90d) or never
    --rotate-every: string    # Rotation policy, a duration (90d) or never [default: 90d]
    --scope: string           # A permission the key carries (repeatable)
    --allow-ip: string        # An address or network allowed to use the key (repeatable)
    --allow-origin: string    # An origin allowed to use the key (repeatable)
    --rate-limit: string      # Rate limit, N/PERIOD (1000/min, 10/s, 5000/hour)
    --tag: string             # A tag (repeatable)
    --note: string            # A free-text note
    --paired-with: string     # The secret holding the other half of a two-part credential (Twilio SID + token, AWS key id + secret)
    --remote: string          # The remote store this secret lives in too (see `keyward remote`): `rotate` stages and promotes there as well (a secret pushed once is linked already)
    --allow-var: string       # Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    --grace: string           # For an existing name: how long the old value keeps working after promotion
    --no-verify               # For an existing name: promote without checking the new value (recorded)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string              # Secret name: letters, digits, '.', '_', '-', '/'
  ]

  # Print a secret's value
  export extern "keyward get" [
    --version: string         # Which version: current, previous, pending or a version number
    --no-newline(-n)          # No newline after the value
    --clip(-c)                # Copy the value to the clipboard instead of printing it; it is cleared after --clip-timeout if the clipboard still holds it
    --clip-timeout: string    # With --clip: how long the value stays on the clipboard
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string
  ]

  # List secrets (never their values)
  export extern "keyward list" [
    --env: string             # Only secrets of this environment, and those with none (as everywhere); an environment no secret has and that is not a well-known name is refused as a typo
    --provider: string        # Only secrets of this provider
    --tag: string             # Only secrets with this tag
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    pattern?: string          # Only secrets whose name, variable, tags or provider contain this text, or match it as a glob (`stripe/*`, `*_TOKEN`); case is ignored
  ]

  # Show a secret's metadata and version history (never values)
  export extern "keyward info" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string
  ]

  def "nu-complete keyward update clear" [] {
    [ "provider" "env" "expires" "scopes" "allow-ip" "allow-origin" "rate-limit" "tags" "note" "paired-with" ]
  }

  # Change a secret's metadata (not its value: see rotate)
  export extern "keyward update" [
    --provider: string        # Provider id (stripe, github, openai, ...) [default: detected from the value]
    --env: string             # Environment: dev, staging, prod or another name
    --var: string             # Environment variable name [default: NAME upper-cased, other characters to _]
    --expires: string         # Expiry: 2027-01-31 (end of that day, UTC), an RFC 3339 time, a duration (90d) or never
    --rotate-every: string    # Rotation policy, a duration (90d) or never [default: 90d]
    --scope: string           # A permission the key carries (repeatable)
    --allow-ip: string        # An address or network allowed to use the key (repeatable)
    --allow-origin: string    # An origin allowed to use the key (repeatable)
    --rate-limit: string      # Rate limit, N/PERIOD (1000/min, 10/s, 5000/hour)
    --tag: string             # A tag (repeatable)
    --note: string            # A free-text note
    --paired-with: string     # The secret holding the other half of a two-part credential (Twilio SID + token, AWS key id + secret)
    --remote: string          # The remote store this secret lives in too (see `keyward remote`): `rotate` stages and promotes there as well (a secret pushed once is linked already)
    --allow-var: string       # Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    --untag: string           # Remove a tag (repeatable)
    --clear: string@"nu-complete keyward update clear" # Empty a field (repeatable)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string
  ]

  # Rename a secret (its variable stays as it is)
  export extern "keyward rename" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    old: string
    new: string
  ]

  # Remove a secret and all its versions
  export extern "keyward rm" [
    --yes(-y)                 # Do not ask for confirmation (needed without a terminal)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string
  ]

  # Manage the vault's key slots: status, tokens, passphrase, recovery key, re-keying
  export extern "keyward key" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Which vault is in use and why, its slots, and which unlock source works now
  export extern "keyward key status" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # CI and teammate tokens (for KEYWARD_VAULT_KEY)
  export extern "keyward key token" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Make a token and print it once
  export extern "keyward key token add" [
    --env: string             # Limit the token to this environment (repeatable); it also opens secrets with no environment. Without it the token opens every environment, present and future. Needs vault format 2
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    label: string             # 1-48 letters, digits, '.', '_', '-' or '@'
  ]

  # List token labels
  export extern "keyward key token list" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Remove a token: it stops working at once
  export extern "keyward key token rm" [
    --yes(-y)                 # Do not ask for confirmation (needed without a terminal)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    label: string             # 1-48 letters, digits, '.', '_', '-' or '@'
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward key token help" [
  ]

  # Make a token and print it once
  export extern "keyward key token help add" [
  ]

  # List token labels
  export extern "keyward key token help list" [
  ]

  # Remove a token: it stops working at once
  export extern "keyward key token help rm" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward key token help help" [
  ]

  # Slots that a CI job's AWS identity unlocks through AWS KMS, with no stored token
  export extern "keyward key kms" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Add a KMS slot: a new identity, kept in the vault encrypted by the KMS key
  export extern "keyward key kms add" [
    --key-id: string          # The KMS key: its ARN (its region is used), or an id or alias/NAME with AWS_REGION
    --env: string             # Limit the slot to this environment (repeatable); it also opens secrets with no environment
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    label: string             # 1-48 letters, digits, '.', '_', '-' or '@'
  ]

  # Remove a KMS slot: what it held is re-keyed
  export extern "keyward key kms rm" [
    --yes(-y)                 # Do not ask for confirmation (needed without a terminal)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    label: string             # 1-48 letters, digits, '.', '_', '-' or '@'
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward key kms help" [
  ]

  # Add a KMS slot: a new identity, kept in the vault encrypted by the KMS key
  export extern "keyward key kms help add" [
  ]

  # Remove a KMS slot: what it held is re-keyed
  export extern "keyward key kms help rm" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward key kms help help" [
  ]

  # Set, replace or remove the passphrase slot
  export extern "keyward key passphrase" [
    --remove                  # Remove the passphrase slot instead of setting it
    --yes(-y)                 # Do not ask before removing or replacing the passphrase (needed without a terminal)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Issue a new recovery key, replacing the old one
  export extern "keyward key recovery" [
    --recovery-key-file: path # Write the recovery key to this file (created 0600); `-` prints it to standard output, alone (everything else goes to standard error)
    --yes(-y)                 # Do not ask before replacing an existing recovery key (needed without a terminal)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  def "nu-complete keyward key import keyring" [] {
    [ "auto" "secret-service" "keyutils" "keychain" "none" ]
  }

  # Put a fresh keyring slot on this machine, from the recovery key, a token or the passphrase
  export extern "keyward key import" [
    --keyring: string@"nu-complete keyward key import keyring" # Where to keep the vault key on this machine
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help (see more with '--help')
  ]

  # Re-key after a leak: new data key, new keyring slot and recovery key; tokens are dropped
  export extern "keyward key rotate" [
    --recovery-key-file: path # Write the recovery key to this file (created 0600); `-` prints it to standard output, alone (everything else goes to standard error)
    --no-recovery             # Issue no recovery key. Without a terminal, `key rotate` refuses unless a recovery key file, a new passphrase (KEYWARD_PASSPHRASE_FILE) or this flag leaves a decision about the way back
    --yes(-y)                 # Do not ask for confirmation (needed without a terminal): every token stops working
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Convert a format 1 vault to format 2: every secret kept, new keys for every slot
  export extern "keyward key upgrade" [
    --recovery-key-file: path # Write the new recovery key to this file (created 0600); `-` prints it to standard output
    --drop-passphrase         # Drop the passphrase slot instead of asking for the passphrase again
    --reissue-tokens          # Make new tokens with the old labels and print them once (otherwise they are listed)
    --yes(-y)                 # Do not ask for confirmation (needed without a terminal): the old tokens and recovery key stop working
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward key help" [
  ]

  # Which vault is in use and why, its slots, and which unlock source works now
  export extern "keyward key help status" [
  ]

  # CI and teammate tokens (for KEYWARD_VAULT_KEY)
  export extern "keyward key help token" [
  ]

  # Make a token and print it once
  export extern "keyward key help token add" [
  ]

  # List token labels
  export extern "keyward key help token list" [
  ]

  # Remove a token: it stops working at once
  export extern "keyward key help token rm" [
  ]

  # Slots that a CI job's AWS identity unlocks through AWS KMS, with no stored token
  export extern "keyward key help kms" [
  ]

  # Add a KMS slot: a new identity, kept in the vault encrypted by the KMS key
  export extern "keyward key help kms add" [
  ]

  # Remove a KMS slot: what it held is re-keyed
  export extern "keyward key help kms rm" [
  ]

  # Set, replace or remove the passphrase slot
  export extern "keyward key help passphrase" [
  ]

  # Issue a new recovery key, replacing the old one
  export extern "keyward key help recovery" [
  ]

  # Put a fresh keyring slot on this machine, from the recovery key, a token or the passphrase
  export extern "keyward key help import" [
  ]

  # Re-key after a leak: new data key, new keyring slot and recovery key; tokens are dropped
  export extern "keyward key help rotate" [
  ]

  # Convert a format 1 vault to format 2: every secret kept, new keys for every slot
  export extern "keyward key help upgrade" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward key help help" [
  ]

  # Your own age identity, whose public key teammates add as a member
  export extern "keyward identity" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Make your identity, keep its secret in the OS keyring (or a 0600 file), print its public key
  export extern "keyward identity new" [
    --file                    # Keep it in a 0600 file ($XDG_CONFIG_HOME/keyward/identity.txt) instead of the OS keyring
    --force                   # Replace the identity you have (vaults that list the old one stop opening with it)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Print your identity's public key (age1…) and where its secret is kept
  export extern "keyward identity show" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Keep an existing age identity file (as age-keygen writes it) as your identity
  export extern "keyward identity import" [
    --file                    # Keep it in a 0600 file ($XDG_CONFIG_HOME/keyward/identity.txt) instead of the OS keyring
    --force                   # Replace the identity you have (vaults that list the old one stop opening with it)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    path: path                # The age identity file (AGE-SECRET-KEY-1…), or - for standard input
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward identity help" [
  ]

  # Make your identity, keep its secret in the OS keyring (or a 0600 file), print its public key
  export extern "keyward identity help new" [
  ]

  # Print your identity's public key (age1…) and where its secret is kept
  export extern "keyward identity help show" [
  ]

  # Keep an existing age identity file (as age-keygen writes it) as your identity
  export extern "keyward identity help import" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward identity help help" [
  ]

  # Team members by public key: add, list, remove (re-keys), grant and revoke environments
  export extern "keyward member" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Add a teammate by their public key; they open the vault with their own identity
  export extern "keyward member add" [
    --key: string             # Their public key: age1… (from `keyward identity show` or age-keygen). Public: a secret key given here is refused and not echoed
    --key-file: path          # A file holding their public key
    --env: string             # Only these environments (comma-separated or repeated); they also hold secrets with no environment
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string              # The member's name: 1-64 letters, digits, '.', '_', '-' or '@'
  ]

  # List members: key, fingerprint, environments, added when and by whom (as the file says)
  export extern "keyward member list" [
    --changes                 # The membership changes this machine noticed, oldest first
    --pin                     # Print the digest of who holds what and of every domain key, for KEYWARD_MEMBERS_PIN
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Accept the vault's current members after a change (needed under KEYWARD_STRICT_MEMBERS)
  export extern "keyward member accept" [
    --pin: string             # Accept only when the vault's pin (`member list --pin`) is this one: what you reviewed is what you accept, even if the file changed since
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Remove a member: every environment they held is re-keyed in the same write
  export extern "keyward member rm" [
    --yes(-y)                 # Do not ask for confirmation (needed without a terminal)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string              # The member's name: 1-64 letters, digits, '.', '_', '-' or '@'
  ]

  # Let a member read (and write) more environments
  export extern "keyward member grant" [
    --env: string             # The environments (comma-separated or repeated)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string              # The member's name: 1-64 letters, digits, '.', '_', '-' or '@'
  ]

  # Take environments from a member: each is re-keyed
  export extern "keyward member revoke" [
    --env: string             # The environments (comma-separated or repeated)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string              # The member's name: 1-64 letters, digits, '.', '_', '-' or '@'
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward member help" [
  ]

  # Add a teammate by their public key; they open the vault with their own identity
  export extern "keyward member help add" [
  ]

  # List members: key, fingerprint, environments, added when and by whom (as the file says)
  export extern "keyward member help list" [
  ]

  # Accept the vault's current members after a change (needed under KEYWARD_STRICT_MEMBERS)
  export extern "keyward member help accept" [
  ]

  # Remove a member: every environment they held is re-keyed in the same write
  export extern "keyward member help rm" [
  ]

  # Let a member read (and write) more environments
  export extern "keyward member help grant" [
  ]

  # Take environments from a member: each is re-keyed
  export extern "keyward member help revoke" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward member help help" [
  ]

  # Readable `git diff` of a project vault: set up the diff driver, or render a vault as git asks
  export extern "keyward git" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Register keyward as git's diff driver for .keyward/*.kw (idempotent)
  export extern "keyward git setup" [
    --global                  # Register the driver in your global git config instead of this clone's
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Print a vault as reviewable lines (what git runs for a diff; never prompts, never a value)
  export extern "keyward git textconv" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    file: path                # The vault file (git passes a temporary copy of each side)
  ]

  # Finish secrets a merge left in conflict: keep ours or theirs
  export extern "keyward git resolve" [
    --ours                    # Keep our side: theirs' values stay as revoked versions (mask still hides them)
    --theirs                  # Keep their side: their value becomes current, ours previous for the grace period
    --all                     # Every secret in conflict
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    ...names: string          # The secrets to finish (none: list the secrets in conflict)
  ]

  # Merge three versions of a vault by secret (what git runs as the merge driver)
  export extern "keyward git merge-driver" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    base: path                # The common ancestor (%O)
    ours: path                # Ours (%A): the result is written here
    theirs: path              # Theirs (%B)
    path?: string             # The path in the repository (%P), for messages
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward git help" [
  ]

  # Register keyward as git's diff driver for .keyward/*.kw (idempotent)
  export extern "keyward git help setup" [
  ]

  # Print a vault as reviewable lines (what git runs for a diff; never prompts, never a value)
  export extern "keyward git help textconv" [
  ]

  # Finish secrets a merge left in conflict: keep ours or theirs
  export extern "keyward git help resolve" [
  ]

  # Merge three versions of a vault by secret (what git runs as the merge driver)
  export extern "keyward git help merge-driver" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward git help help" [
  ]

  # Remote stores (AWS Secrets Manager, Vault/OpenBao KV v2): add, list, remove, status
  export extern "keyward remote" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Record a remote in the vault: aws-sm://REGION/PREFIX or vault:MOUNT/PATH
  export extern "keyward remote add" [
    --env: string             # The environment whose secrets it holds (default: secrets with no environment)
    --prefix: string          # A path appended to the URL's prefix
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string              # The remote's name: 1-64 letters, digits, '.', '_', '-' or '@'
    url: string               # aws-sm://REGION/PREFIX or vault:MOUNT/PATH
  ]

  # List the remotes this key can see
  export extern "keyward remote list" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Remove a remote from the vault (the store is left as it is)
  export extern "keyward remote rm" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    remote: string            # The remote's name
  ]

  # Trust a remote on this machine, as it is now (needed once for a remote this machine did not add, and again after anyone changes it)
  export extern "keyward remote trust" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    remote: string            # The remote's name
  ]

  # Compare the vault with a remote, by version ids (never values)
  export extern "keyward remote status" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    remote: string            # The remote's name
    ...names: string          # Only these secrets
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward remote help" [
  ]

  # Record a remote in the vault: aws-sm://REGION/PREFIX or vault:MOUNT/PATH
  export extern "keyward remote help add" [
  ]

  # List the remotes this key can see
  export extern "keyward remote help list" [
  ]

  # Remove a remote from the vault (the store is left as it is)
  export extern "keyward remote help rm" [
  ]

  # Trust a remote on this machine, as it is now (needed once for a remote this machine did not add, and again after anyone changes it)
  export extern "keyward remote help trust" [
  ]

  # Compare the vault with a remote, by version ids (never values)
  export extern "keyward remote help status" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward remote help help" [
  ]

  # Write secrets to a remote store: the new and the changed ones
  export extern "keyward push" [
    --env: string             # Only secrets of this environment (it must be the remote's)
    --dry-run                 # Say what would be written, and write nothing
    --force                   # Write secrets that changed on both sides too (the remote's value is replaced)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    remote: string            # The remote's name
    ...names: string          # Only these secrets
  ]

  # Read secrets from a remote store into the vault: the new and the changed ones
  export extern "keyward pull" [
    --dry-run                 # Say what would be read, and change nothing
    --force                   # Take the remote's value of secrets that changed on both sides too (the local one stays as previous)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    remote: string            # The remote's name
    ...names: string          # Only these secrets
  ]

  # Remove this machine's keyring entry for the vault
  export extern "keyward lock" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  def "nu-complete keyward unlock keyring" [] {
    [ "auto" "secret-service" "keyutils" "keychain" "none" ]
  }

  # Restore this machine's keyring entry (same as `key import`)
  export extern "keyward unlock" [
    --keyring: string@"nu-complete keyward unlock keyring" # Where to keep the vault key on this machine
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help (see more with '--help')
  ]

  # Check secrets: format, environment, expiry, rotation age, and the provider online
  export extern "keyward validate" [
    --all                     # Check every secret
    --env: string             # Secrets of this environment and those with none, as `exec` and `export` select them (with --stdin: the environment the key is meant for)
    --online                  # Also ask each provider whether it accepts the key
    --concurrency: string     # Online checks at a time [default: 16, or [validate] concurrency]
    --timeout: string         # Time allowed per request [default: 10s, or [validate] timeout]
    --stdin                   # Check a value read from standard input instead of stored secrets
    --provider: string        # With --stdin: the provider [default: detected from the value]
    --strict                  # A secret overdue for rotation fails instead of warning
    --fail-on-unknown         # An online verdict of unknown fails instead of warning
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    ...names: string          # Secrets to check
  ]

  # Rotate a secret in stages: pending, verified, promoted to current; the old one kept as previous
  export extern "keyward rotate" [
    --generate                # Generate the new value (internal and generic secrets)
    --length: string          # With --generate: random bytes before encoding
    --prefix: string          # With --generate: text put before the random part (e.g. whk_)
    --grace: string           # How long the old value keeps working after promotion (kept for this secret)
    --no-verify               # Promote without checking the new value (recorded)
    --promote                 # Verify and promote the pending value
    --force                   # With --promote: promote without verifying
    --abort                   # Discard the pending value
    --rollback                # Make the previous value current again; the current one is revoked
    --finish                  # End the grace period now: the previous value is revoked
    --online                  # With --finish: ask the provider whether it still accepts the old value
    --due                     # List secrets due for rotation (exit 1 if any is overdue)
    --within: string          # With --due: also list those due within this time
    --yes(-y)                 # Do not ask for confirmation (--abort)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name?: string             # The secret to rotate
  ]

  def "nu-complete keyward mask style" [] {
    [ "partial" "full" "label" ]
  }

  # Hide known values and provider-shaped keys in text (a streaming filter)
  export extern "keyward mask" [
    --style: string@"nu-complete keyward mask style" # How matches are shown
    --no-known                # Do not open the vault: hide provider-shaped keys only
    --no-patterns             # Do not look for provider-shaped keys: hide known values only
    --min-length: string      # Never hide known values shorter than this
    --in-place                # Rewrite the files instead of printing them
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help (see more with '--help')
    ...files: path            # Files to mask (default: standard input)
  ]

  def "nu-complete keyward scan results" [] {
    [ "valid" "invalid" "unknown" "unverified" ]
  }

  def "nu-complete keyward scan format" [] {
    [ "table" "json" "sarif" ]
  }

  # Find hardcoded keys in files and git history, verify them, and stop them at commit time
  export extern "keyward scan" [
    --git                     # Scan every blob in the repository's history (all refs), each once
    --since: string           # With --git: only commits on HEAD since REV (REV..HEAD)
    --staged                  # Scan what the staged changes add (for a pre-commit hook)
    --verify                  # Ask each provider whether the keys found are live (valid, invalid or unknown)
    --only-verified           # Report only keys a provider confirmed live (implies --verify)
    --results: string@"nu-complete keyward scan results" # Report only findings with these verdicts: valid, invalid, unknown, unverified (no online check for that kind of key); comma-separated (implies --verify)
    --no-known                # Do not open the vault: skip the user's own stored values
    --format: string@"nu-complete keyward scan format" # Output format (--json is the same as --format json)
    --exit-zero               # Exit 0 even when findings remain
    --baseline: path          # Write every finding's fingerprint to FILE (a .keyward-scan.toml) to accept them, and exit 0
    --config: path            # Settings file [default: the nearest .keyward-scan.toml]
    --all-files               # Also scan hidden files and files that .gitignore or .ignore exclude
    --threads(-j): string     # Threads scanning files or git objects [default: all cores]
    --install-hook            # Install a git pre-commit hook that runs `keyward scan --staged`
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help (see more with '--help')
    ...paths: path            # Files and directories to scan [default: .]
  ]

  # Run a command with secrets as environment variables and its output masked
  export extern "keyward exec" [
    --env: string             # Inject the secrets of this environment (and those with none)
    --only: string            # Inject exactly these secrets (comma-separated or repeated)
    --no-mask                 # Do not mask the command's output
    --allow-env-mismatch      # Allow live keys outside prod, test keys in prod, and secrets of another environment
    --allow-var: string       # Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    ...command: string        # The command and its arguments, after `--`
  ]

  # Render a template, replacing {{ keyward:NAME }} with values
  export extern "keyward inject" [
    --in(-i): path            # The template (default: standard input)
    --out(-o): path           # Where to write (default: standard output)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  def "nu-complete keyward export format" [] {
    [ "dotenv" "shell" "json" "github" "gitlab" "pass" "1password-csv" ]
  }

  # Print secrets as variables (dotenv, shell, JSON, GitHub Actions, GitLab CI), or hand them to pass or 1Password
  export extern "keyward export" [
    --env: string             # Export the secrets of this environment (and those with none)
    --only: string            # Export exactly these secrets (comma-separated or repeated)
    --format: string@"nu-complete keyward export format" # Output format [default: dotenv; json with --json]
    --yes(-y)                 # Print to a terminal without asking
    --allow-env-mismatch      # Allow live keys outside prod, test keys in prod, and secrets of another environment
    --allow-var: string       # Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help (see more with '--help')
    dir?: path                # With --format pass: the password store to write to [default: $PASSWORD_STORE_DIR, else ~/.password-store]
  ]

  def "nu-complete keyward import from" [] {
    [ "pass" "dotenvx" "1password" ]
  }

  def "nu-complete keyward import format" [] {
    [ "dotenv" "json" ]
  }

  # Add secrets from a .env or JSON file, a password store, dotenvx or 1Password
  export extern "keyward import" [
    --from: string@"nu-complete keyward import from" # Import from another tool: pass (a store; each entry's first line is the value, the rest the note, its path the name), dotenvx (an encrypted .env), 1password (a .1pux or CSV export: API credentials, passwords and logins, titles as names)
    --env: string             # Environment of the imported secrets
    --format: string@"nu-complete keyward import format" # The file's format [default: json for *.json, else dotenv]
    --provider: string        # Provider of every imported secret [default: detected from each value]
    --dry-run                 # Report what would happen; store nothing
    --overwrite               # Replace the values of existing secrets (the old value stays as previous)
    --remove-source           # After importing a plaintext file, overwrite it and delete it (no guarantee on copy-on-write or journaled file systems, or for copies elsewhere)
    --allow-var: string       # Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help (see more with '--help')
    file?: string             # A .env or JSON file, or - for standard input; with --from pass, the password store [default: $PASSWORD_STORE_DIR, else ~/.password-store]
  ]

  # The tamper-evident audit log: list events, report, verify the chain
  export extern "keyward audit" [
    --since: string           # From this time: a date (2026-11-01), an RFC 3339 time, or a duration ago (7d)
    --until: string           # Until this time (same forms; a date means the end of that day)
    --secret: string          # Only events of this secret
    --event: string           # Only events of this type (get, add, rotate.promoted, unlock.failed, ...)
    --actor: string           # Only events by this actor (user@host)
    --limit: string           # At most N events (the latest)
    --jsonl                   # One JSON object per line
    --path                    # Print where the log is
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Totals by event, secret and actor, and findings; exit 1 when a finding fails
  export extern "keyward audit report" [
    --since: string           # From this time: a date (2026-11-01), an RFC 3339 time, or a duration ago (7d)
    --until: string           # Until this time (same forms; a date means the end of that day)
    --notify                  # Send the findings to the configured notification hooks
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Check the whole chain: exit 0 when intact, 5 naming the first broken entry
  export extern "keyward audit verify" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward audit help" [
  ]

  # Totals by event, secret and actor, and findings; exit 1 when a finding fails
  export extern "keyward audit help report" [
  ]

  # Check the whole chain: exit 0 when intact, 5 naming the first broken entry
  export extern "keyward audit help verify" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward audit help help" [
  ]

  # Revoke a secret (every live version), optionally as compromised and with a replacement
  export extern "keyward revoke" [
    --compromised             # The key leaked: record it, offer to report it to the provider, refuse rollbacks to it
    --reason: string          # Why, for the audit log and the notification
    --rotate                  # Rotate to a replacement at once (generated for internal keys, else from standard input)
    --yes(-y)                 # Do not ask for confirmation
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    name: string
  ]

  # Write an encrypted, integrity-checked snapshot of the vault and its audit log
  export extern "keyward backup" [
    --passphrase              # Protect it with its own passphrase (KEYWARD_PASSPHRASE_FILE, or asked twice)
    --force                   # Replace an existing file without asking (needed without a terminal)
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    file: path                # Where to write the backup (created 0600)
  ]

  # Restore a vault and its audit log from a backup
  export extern "keyward restore" [
    --force                   # Replace an existing vault
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    file: path                # The backup file
  ]

  def "nu-complete keyward completions shell" [] {
    [ "bash" "zsh" "fish" "powershell" "elvish" "nushell" ]
  }

  # Print the shell completion script (bash, zsh, fish, powershell, elvish, nushell)
  export extern "keyward completions" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    shell: string@"nu-complete keyward completions shell"
  ]

  # Check the environment: which vault and why, keyrings, permissions, config, clock
  export extern "keyward doctor" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Clears the clipboard after a while if it still holds what `get --clip` put there (the detached helper `get --clip` starts; reads the value's SHA-256 on standard input)
  export extern "keyward __clip-clear" [
    --after-ms: string
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Write completions/ and man/ (for keyward's own repository)
  export extern "keyward generate-docs" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
    dir?: path                # The repository root
  ]

  # List the provider registry: built-in providers and the config file's
  export extern "keyward providers" [
    --vault: path             # Vault file to use [env: KEYWARD_VAULT]
    --json                    # Print one JSON document instead of text
    --quiet(-q)               # Print only what was asked for: no confirmations or notices
    --no-color                # Never colour the output (also NO_COLOR)
    --help(-h)                # Print help
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward help" [
  ]

  # Create a vault and its key slots
  export extern "keyward help init" [
  ]

  # Store a new secret (value from standard input or a hidden prompt)
  export extern "keyward help add" [
  ]

  # Store a value under a name: `add` for a new name; for an existing one, a staged rotation (pending, verified, promoted), as `rotate NAME`
  export extern "keyward help set" [
  ]

  # Print a secret's value
  export extern "keyward help get" [
  ]

  # List secrets (never their values)
  export extern "keyward help list" [
  ]

  # Show a secret's metadata and version history (never values)
  export extern "keyward help info" [
  ]

  # Change a secret's metadata (not its value: see rotate)
  export extern "keyward help update" [
  ]

  # Rename a secret (its variable stays as it is)
  export extern "keyward help rename" [
  ]

  # Remove a secret and all its versions
  export extern "keyward help rm" [
  ]

  # Manage the vault's key slots: status, tokens, passphrase, recovery key, re-keying
  export extern "keyward help key" [
  ]

  # Which vault is in use and why, its slots, and which unlock source works now
  export extern "keyward help key status" [
  ]

  # CI and teammate tokens (for KEYWARD_VAULT_KEY)
  export extern "keyward help key token" [
  ]

  # Make a token and print it once
  export extern "keyward help key token add" [
  ]

  # List token labels
  export extern "keyward help key token list" [
  ]

  # Remove a token: it stops working at once
  export extern "keyward help key token rm" [
  ]

  # Slots that a CI job's AWS identity unlocks through AWS KMS, with no stored token
  export extern "keyward help key kms" [
  ]

  # Add a KMS slot: a new identity, kept in the vault encrypted by the KMS key
  export extern "keyward help key kms add" [
  ]

  # Remove a KMS slot: what it held is re-keyed
  export extern "keyward help key kms rm" [
  ]

  # Set, replace or remove the passphrase slot
  export extern "keyward help key passphrase" [
  ]

  # Issue a new recovery key, replacing the old one
  export extern "keyward help key recovery" [
  ]

  # Put a fresh keyring slot on this machine, from the recovery key, a token or the passphrase
  export extern "keyward help key import" [
  ]

  # Re-key after a leak: new data key, new keyring slot and recovery key; tokens are dropped
  export extern "keyward help key rotate" [
  ]

  # Convert a format 1 vault to format 2: every secret kept, new keys for every slot
  export extern "keyward help key upgrade" [
  ]

  # Your own age identity, whose public key teammates add as a member
  export extern "keyward help identity" [
  ]

  # Make your identity, keep its secret in the OS keyring (or a 0600 file), print its public key
  export extern "keyward help identity new" [
  ]

  # Print your identity's public key (age1…) and where its secret is kept
  export extern "keyward help identity show" [
  ]

  # Keep an existing age identity file (as age-keygen writes it) as your identity
  export extern "keyward help identity import" [
  ]

  # Team members by public key: add, list, remove (re-keys), grant and revoke environments
  export extern "keyward help member" [
  ]

  # Add a teammate by their public key; they open the vault with their own identity
  export extern "keyward help member add" [
  ]

  # List members: key, fingerprint, environments, added when and by whom (as the file says)
  export extern "keyward help member list" [
  ]

  # Accept the vault's current members after a change (needed under KEYWARD_STRICT_MEMBERS)
  export extern "keyward help member accept" [
  ]

  # Remove a member: every environment they held is re-keyed in the same write
  export extern "keyward help member rm" [
  ]

  # Let a member read (and write) more environments
  export extern "keyward help member grant" [
  ]

  # Take environments from a member: each is re-keyed
  export extern "keyward help member revoke" [
  ]

  # Readable `git diff` of a project vault: set up the diff driver, or render a vault as git asks
  export extern "keyward help git" [
  ]

  # Register keyward as git's diff driver for .keyward/*.kw (idempotent)
  export extern "keyward help git setup" [
  ]

  # Print a vault as reviewable lines (what git runs for a diff; never prompts, never a value)
  export extern "keyward help git textconv" [
  ]

  # Finish secrets a merge left in conflict: keep ours or theirs
  export extern "keyward help git resolve" [
  ]

  # Merge three versions of a vault by secret (what git runs as the merge driver)
  export extern "keyward help git merge-driver" [
  ]

  # Remote stores (AWS Secrets Manager, Vault/OpenBao KV v2): add, list, remove, status
  export extern "keyward help remote" [
  ]

  # Record a remote in the vault: aws-sm://REGION/PREFIX or vault:MOUNT/PATH
  export extern "keyward help remote add" [
  ]

  # List the remotes this key can see
  export extern "keyward help remote list" [
  ]

  # Remove a remote from the vault (the store is left as it is)
  export extern "keyward help remote rm" [
  ]

  # Trust a remote on this machine, as it is now (needed once for a remote this machine did not add, and again after anyone changes it)
  export extern "keyward help remote trust" [
  ]

  # Compare the vault with a remote, by version ids (never values)
  export extern "keyward help remote status" [
  ]

  # Write secrets to a remote store: the new and the changed ones
  export extern "keyward help push" [
  ]

  # Read secrets from a remote store into the vault: the new and the changed ones
  export extern "keyward help pull" [
  ]

  # Remove this machine's keyring entry for the vault
  export extern "keyward help lock" [
  ]

  # Restore this machine's keyring entry (same as `key import`)
  export extern "keyward help unlock" [
  ]

  # Check secrets: format, environment, expiry, rotation age, and the provider online
  export extern "keyward help validate" [
  ]

  # Rotate a secret in stages: pending, verified, promoted to current; the old one kept as previous
  export extern "keyward help rotate" [
  ]

  # Hide known values and provider-shaped keys in text (a streaming filter)
  export extern "keyward help mask" [
  ]

  # Find hardcoded keys in files and git history, verify them, and stop them at commit time
  export extern "keyward help scan" [
  ]

  # Run a command with secrets as environment variables and its output masked
  export extern "keyward help exec" [
  ]

  # Render a template, replacing {{ keyward:NAME }} with values
  export extern "keyward help inject" [
  ]

  # Print secrets as variables (dotenv, shell, JSON, GitHub Actions, GitLab CI), or hand them to pass or 1Password
  export extern "keyward help export" [
  ]

  # Add secrets from a .env or JSON file, a password store, dotenvx or 1Password
  export extern "keyward help import" [
  ]

  # The tamper-evident audit log: list events, report, verify the chain
  export extern "keyward help audit" [
  ]

  # Totals by event, secret and actor, and findings; exit 1 when a finding fails
  export extern "keyward help audit report" [
  ]

  # Check the whole chain: exit 0 when intact, 5 naming the first broken entry
  export extern "keyward help audit verify" [
  ]

  # Revoke a secret (every live version), optionally as compromised and with a replacement
  export extern "keyward help revoke" [
  ]

  # Write an encrypted, integrity-checked snapshot of the vault and its audit log
  export extern "keyward help backup" [
  ]

  # Restore a vault and its audit log from a backup
  export extern "keyward help restore" [
  ]

  # Print the shell completion script (bash, zsh, fish, powershell, elvish, nushell)
  export extern "keyward help completions" [
  ]

  # Check the environment: which vault and why, keyrings, permissions, config, clock
  export extern "keyward help doctor" [
  ]

  # Clears the clipboard after a while if it still holds what `get --clip` put there (the detached helper `get --clip` starts; reads the value's SHA-256 on standard input)
  export extern "keyward help __clip-clear" [
  ]

  # Write completions/ and man/ (for keyward's own repository)
  export extern "keyward help generate-docs" [
  ]

  # List the provider registry: built-in providers and the config file's
  export extern "keyward help providers" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "keyward help help" [
  ]

}

export use completions *
