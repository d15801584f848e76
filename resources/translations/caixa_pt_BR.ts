<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="pt_BR">
<context>
    <name>AccountListModel</name>
    <message>
        <source>Connected</source>
        <translation>Conectado</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Conectando…</translation>
    </message>
    <message>
        <source>Waiting for the QR code to be scanned</source>
        <translation>Aguardando a leitura do código QR</translation>
    </message>
    <message>
        <source>Needs repair: link this number again</source>
        <translation>Precisa de reparo: conecte este número de novo</translation>
    </message>
    <message>
        <source>Blocked by the provider</source>
        <translation>Bloqueado pelo provedor</translation>
    </message>
    <message>
        <source>Offline</source>
        <translation>Desconectado</translation>
    </message>
    <message>
        <source>All numbers</source>
        <translation>Todos os números</translation>
    </message>
    <message>
        <source>Every conversation of every number</source>
        <translation>Todas as conversas de todos os números</translation>
    </message>
    <message numerus="yes">
        <source>%n unread</source>
        <translation>
            <numerusform>%n não lida</numerusform>
            <numerusform>%n não lidas</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>App</name>
    <message>
        <source>Caixa</source>
        <translation>Caixa</translation>
    </message>
    <message>
        <source>Caixa cannot open your messages</source>
        <translation>O Caixa não consegue abrir suas mensagens</translation>
    </message>
    <message>
        <source>Preparing the demo workspace…</source>
        <translation>Preparando o espaço de demonstração…</translation>
    </message>
</context>
<context>
    <name>CacheKeyDialogs</name>
    <message>
        <source>Caixa cannot open your messages</source>
        <translation>O Caixa não consegue abrir suas mensagens</translation>
    </message>
    <message>
        <source>Caixa could not open its local cache.</source>
        <translation>O Caixa não conseguiu abrir o cache local.</translation>
    </message>
    <message>
        <source>Start with a new, empty cache? The current file is kept, renamed, beside the new one, so it can still be opened if the right key turns up. Messages of connected numbers will be downloaded again.</source>
        <translation>Começar com um cache novo e vazio? O arquivo atual é mantido, com outro nome, ao lado do novo, para que ainda possa ser aberto se a chave certa aparecer. As mensagens dos números conectados serão baixadas de novo.</translation>
    </message>
    <message>
        <source>&amp;Start a new cache</source>
        <translation>&amp;Começar um cache novo</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Sair</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Type a message</source>
        <translation>Digite uma mensagem</translation>
    </message>
</context>
<context>
    <name>ConversationListModel</name>
    <message numerus="yes">
        <source>%n unread</source>
        <translation>
            <numerusform>%n não lida</numerusform>
            <numerusform>%n não lidas</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>FirstRunView</name>
    <message>
        <source>Welcome to Caixa</source>
        <translation>Boas-vindas ao Caixa</translation>
    </message>
    <message>
        <source>One inbox for all your WhatsApp numbers</source>
        <translation>Uma caixa de entrada para todos os seus números de WhatsApp</translation>
    </message>
    <message>
        <source>How would you like to start?</source>
        <translation>Como você quer começar?</translation>
    </message>
    <message>
        <source>&amp;Try the demo</source>
        <translation>&amp;Experimentar a demonstração</translation>
    </message>
    <message>
        <source>Three fictitious shops with their customers, so you can explore everything safely.</source>
        <translation>Três lojas fictícias com seus clientes, para você explorar tudo sem riscos.</translation>
    </message>
    <message>
        <source>&amp;Add a WhatsApp number</source>
        <translation>&amp;Adicionar um número de WhatsApp</translation>
    </message>
    <message>
        <source>Not available yet: connecting numbers through Meta&apos;s Cloud API, Evolution API or your own gateway arrives in the next version of Caixa.</source>
        <translation>Ainda não disponível: conectar números pela Cloud API da Meta, pela Evolution API ou pelo seu próprio gateway chega na próxima versão do Caixa.</translation>
    </message>
    <message>
        <source>&amp;Join a team</source>
        <translation>&amp;Entrar em uma equipe</translation>
    </message>
    <message>
        <source>Not available yet: sharing conversations with a team through a Caixa server comes in a later version.</source>
        <translation>Ainda não disponível: compartilhar conversas com uma equipe por meio de um servidor Caixa chega em uma versão futura.</translation>
    </message>
</context>
<context>
    <name>Formatting</name>
    <message>
        <source>Today</source>
        <translation>Hoje</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>Ontem</translation>
    </message>
    <message>
        <source>📷 Photo</source>
        <translation>📷 Foto</translation>
    </message>
    <message>
        <source>🎥 Video</source>
        <translation>🎥 Vídeo</translation>
    </message>
    <message>
        <source>🏷 Sticker</source>
        <translation>🏷 Figurinha</translation>
    </message>
    <message>
        <source>📄 Document</source>
        <translation>📄 Documento</translation>
    </message>
    <message>
        <source>🎤 Voice message</source>
        <translation>🎤 Mensagem de voz</translation>
    </message>
    <message>
        <source>📍 Location</source>
        <translation>📍 Localização</translation>
    </message>
    <message>
        <source>👤 Contact</source>
        <translation>👤 Contato</translation>
    </message>
    <message>
        <source>Template message</source>
        <translation>Mensagem de modelo</translation>
    </message>
    <message>
        <source>Interactive message</source>
        <translation>Mensagem interativa</translation>
    </message>
    <message>
        <source>Unsupported message</source>
        <translation>Mensagem não suportada</translation>
    </message>
    <message>
        <source>unknown reason</source>
        <translation>motivo desconhecido</translation>
    </message>
    <message>
        <source>Not sent: {reason}</source>
        <translation>Não enviada: {reason}</translation>
    </message>
    <message>
        <source>This message may not have been delivered</source>
        <translation>Esta mensagem pode não ter sido entregue</translation>
    </message>
</context>
<context>
    <name>KeyProtectionDialog</name>
    <message>
        <source>Where should Caixa keep its key?</source>
        <translation>Onde o Caixa deve guardar a chave?</translation>
    </message>
    <message>
        <source>Caixa encrypts your messages on this computer. Its key is normally kept in the system keyring, but this computer has none available. You can keep the key in a file instead:</source>
        <translation>O Caixa criptografa suas mensagens neste computador. A chave normalmente fica no chaveiro do sistema, mas este computador não tem um disponível. Você pode guardar a chave em um arquivo:</translation>
    </message>
    <message>
        <source>Protect the key with a &amp;passcode (recommended)</source>
        <translation>Proteger a chave com uma &amp;senha (recomendado)</translation>
    </message>
    <message>
        <source>Keep the key in the file &amp;without protection</source>
        <translation>Guardar a chave no arquivo &amp;sem proteção</translation>
    </message>
    <message>
        <source>Passcode:</source>
        <translation>Senha:</translation>
    </message>
    <message>
        <source>Repeat it:</source>
        <translation>Repita a senha:</translation>
    </message>
    <message>
        <source>I understand that anyone who can read this file can read my messages</source>
        <translation>Entendo que qualquer pessoa que consiga ler este arquivo poderá ler minhas mensagens</translation>
    </message>
    <message numerus="yes">
        <source>The passcode needs at least %n characters.</source>
        <translation>
            <numerusform>A senha precisa de pelo menos %n caractere.</numerusform>
            <numerusform>A senha precisa de pelo menos %n caracteres.</numerusform>
        </translation>
    </message>
    <message>
        <source>The two passcodes are different.</source>
        <translation>As duas senhas são diferentes.</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Caixa</source>
        <translation>Caixa</translation>
    </message>
    <message>
        <source>Numbers</source>
        <translation>Números</translation>
    </message>
    <message>
        <source>WhatsApp numbers</source>
        <translation>Números de WhatsApp</translation>
    </message>
    <message>
        <source>All numbers</source>
        <translation>Todos os números</translation>
    </message>
    <message>
        <source>Search…</source>
        <translation>Pesquisar…</translation>
    </message>
    <message>
        <source>Search every conversation (Ctrl+F)</source>
        <translation>Pesquisar em todas as conversas (Ctrl+F)</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>Conversas</translation>
    </message>
    <message>
        <source>Choose a conversation to read and reply.</source>
        <translation>Escolha uma conversa para ler e responder.</translation>
    </message>
    <message>
        <source>Messages</source>
        <translation>Mensagens</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>Mensagem</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>Enviar</translation>
    </message>
    <message>
        <source>Send (Enter) · new line: Shift+Enter</source>
        <translation>Enviar (Enter) · nova linha: Shift+Enter</translation>
    </message>
    <message>
        <source>via {number}</source>
        <translation>via {number}</translation>
    </message>
    <message>
        <source>Not sent: {reason}</source>
        <translation>Não enviada: {reason}</translation>
    </message>
</context>
<context>
    <name>MessageListModel</name>
    <message>
        <source>You</source>
        <translation>Você</translation>
    </message>
    <message>
        <source>Customer</source>
        <translation>Cliente</translation>
    </message>
</context>
<context>
    <name>PasscodeDialog</name>
    <message>
        <source>Unlock Caixa</source>
        <translation>Desbloquear o Caixa</translation>
    </message>
    <message>
        <source>That passcode is not right. Try again:</source>
        <translation>Essa senha não está certa. Tente de novo:</translation>
    </message>
    <message>
        <source>Type your passcode to open your messages:</source>
        <translation>Digite sua senha para abrir suas mensagens:</translation>
    </message>
    <message>
        <source>Key file: %1</source>
        <translation>Arquivo da chave: %1</translation>
    </message>
</context>
<context>
    <name>SearchDialog</name>
    <message>
        <source>Search all conversations</source>
        <translation>Pesquisar em todas as conversas</translation>
    </message>
    <message>
        <source>Search messages in every number</source>
        <translation>Pesquisar mensagens em todos os números</translation>
    </message>
    <message>
        <source>Search text</source>
        <translation>Texto da pesquisa</translation>
    </message>
    <message>
        <source>Search results</source>
        <translation>Resultados da pesquisa</translation>
    </message>
    <message>
        <source>No messages found</source>
        <translation>Nenhuma mensagem encontrada</translation>
    </message>
    <message numerus="yes">
        <source>The newest %n matches</source>
        <translation>
            <numerusform>A ocorrência mais recente</numerusform>
            <numerusform>As %n ocorrências mais recentes</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n message(s) found</source>
        <translation>
            <numerusform>%n mensagem encontrada</numerusform>
            <numerusform>%n mensagens encontradas</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>SearchHitDelegate</name>
    <message>
        <source>You: </source>
        <translation>Você: </translation>
    </message>
</context>
</TS>
