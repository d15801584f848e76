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
    <name>AddNumberDialog</name>
    <message>
        <source>Add a WhatsApp number</source>
        <translation>Adicionar um número de WhatsApp</translation>
    </message>
    <message>
        <source>How is this number connected?</source>
        <translation>Como este número está conectado?</translation>
    </message>
    <message>
        <source>&amp;Official (Meta Cloud API)</source>
        <translation>&amp;Oficial (Meta Cloud API)</translation>
    </message>
    <message>
        <source>A number registered on Meta&apos;s WhatsApp Business Platform.</source>
        <translation>Um número registrado na plataforma WhatsApp Business da Meta.</translation>
    </message>
    <message>
        <source>&amp;QR-linked (Evolution API)</source>
        <translation>Conectado por &amp;QR (Evolution API)</translation>
    </message>
    <message>
        <source>Your WhatsApp app linked by scanning a QR code, through Evolution API.</source>
        <translation>Seu WhatsApp conectado lendo um QR code, pela Evolution API.</translation>
    </message>
    <message>
        <source>&amp;VPS gateway</source>
        <translation>&amp;Gateway em VPS</translation>
    </message>
    <message>
        <source>Your WhatsApp app linked through your own Caixa gateway on a server.</source>
        <translation>Seu WhatsApp conectado pelo seu próprio gateway do Caixa em um servidor.</translation>
    </message>
    <message>
        <source>&amp;Back</source>
        <translation>&amp;Voltar</translation>
    </message>
    <message>
        <source>&amp;Next</source>
        <translation>&amp;Avançar</translation>
    </message>
    <message>
        <source>Name shown in Caixa</source>
        <translation>Nome exibido no Caixa</translation>
    </message>
    <message>
        <source>Phone number ID</source>
        <translation>ID do número de telefone</translation>
    </message>
    <message>
        <source>WhatsApp Business Account ID</source>
        <translation>ID da conta do WhatsApp Business</translation>
    </message>
    <message>
        <source>Access token</source>
        <translation>Token de acesso</translation>
    </message>
    <message>
        <source>App secret</source>
        <translation>Chave secreta do app</translation>
    </message>
    <message>
        <source>Webhook verify token</source>
        <translation>Token de verificação do webhook</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Endereço do servidor</translation>
    </message>
    <message>
        <source>Graph API version</source>
        <translation>Versão da Graph API</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>Chave de API</translation>
    </message>
    <message>
        <source>Instance name</source>
        <translation>Nome da instância</translation>
    </message>
    <message>
        <source>Master token</source>
        <translation>Token mestre</translation>
    </message>
    <message>
        <source>Instance token</source>
        <translation>Token da instância</translation>
    </message>
    <message>
        <source>Webhook secret</source>
        <translation>Segredo do webhook</translation>
    </message>
    <message>
        <source>Made from the name when left empty</source>
        <translation>Criado a partir do nome se ficar vazio</translation>
    </message>
    <message>
        <source>This or %1 (one is enough)</source>
        <translation>Este campo ou %1 (basta um)</translation>
    </message>
    <message>
        <source>Optional</source>
        <translation>Opcional</translation>
    </message>
    <message>
        <source>&amp;Add number</source>
        <translation>&amp;Adicionar número</translation>
    </message>
    <message>
        <source>Checking…</source>
        <translation>Verificando…</translation>
    </message>
    <message>
        <source>Connected to %1.</source>
        <translation>Conectado a %1.</translation>
    </message>
</context>
<context>
    <name>AddNumberPresenter</name>
    <message>
        <source>Please check the form: %1</source>
        <translation>Confira o formulário: %1</translation>
    </message>
    <message>
        <source>The provider refused these credentials. Check the token and try again.</source>
        <translation>O provedor recusou essas credenciais. Confira o token e tente de novo.</translation>
    </message>
    <message>
        <source>The provider could not be reached: %1</source>
        <translation>Não foi possível falar com o provedor: %1</translation>
    </message>
    <message>
        <source>The number could not be saved: %1</source>
        <translation>Não foi possível salvar o número: %1</translation>
    </message>
    <message>
        <source>%1 is required.</source>
        <translation>Preencha o campo %1.</translation>
    </message>
    <message>
        <source>%1 must be text.</source>
        <translation>O campo %1 precisa ser um texto.</translation>
    </message>
    <message>
        <source>%1 may be at most 100 characters long.</source>
        <translation>O campo %1 pode ter no máximo 100 caracteres.</translation>
    </message>
    <message>
        <source>%1 must be an address starting with https:// (or http://).</source>
        <translation>O campo %1 precisa ser um endereço que comece com https:// (ou http://).</translation>
    </message>
    <message>
        <source>%1 must be the number the provider shows, in digits only.</source>
        <translation>O campo %1 precisa ser o número que o provedor mostra, só com dígitos.</translation>
    </message>
    <message>
        <source>%1 may hold only letters, digits, dots, hyphens and underscores (up to 100).</source>
        <translation>O campo %1 pode ter só letras, dígitos, pontos, hifens e sublinhados (até 100).</translation>
    </message>
    <message>
        <source>%1 must look like v23.0.</source>
        <translation>O campo %1 precisa ter a forma v23.0.</translation>
    </message>
    <message>
        <source>Fill in %1 or %2.</source>
        <translation>Preencha %1 ou %2.</translation>
    </message>
    <message>
        <source>%1 is not valid.</source>
        <translation>O valor do campo %1 não é válido.</translation>
    </message>
</context>
<context>
    <name>App</name>
    <message>
        <source>Leave the team? This computer&apos;s copy of the team&apos;s conversations is deleted; they stay on the team&apos;s server, and joining again brings them back.</source>
        <translation>Sair da equipe? A cópia das conversas da equipe neste computador será apagada; elas continuam no servidor da equipe, e entrar de novo as traz de volta.</translation>
    </message>
    <message>
        <source>%1 message(s) written here have not reached the server and will be lost.</source>
        <translation>%1 mensagem(ns) escrita(s) aqui ainda não chegaram ao servidor e serão perdidas.</translation>
    </message>
    <message>
        <source>Leave the team</source>
        <translation>Sair da equipe</translation>
    </message>
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
    <message>
        <source>Opening your messages… (after an update this can take a few seconds)</source>
        <translation>Abrindo suas mensagens… (depois de uma atualização isso pode levar alguns segundos)</translation>
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
    <name>ChatHeader</name>
    <message>
        <source>&amp;Take this conversation</source>
        <translation>&amp;Assumir esta conversa</translation>
    </message>
    <message>
        <source>A&amp;ssign…</source>
        <translation>A&amp;tribuir…</translation>
    </message>
    <message>
        <source>Give this conversation to someone of the team</source>
        <translation>Passar esta conversa para alguém da equipe</translation>
    </message>
    <message>
        <source>The team&apos;s internal notes on this conversation</source>
        <translation>As notas internas da equipe sobre esta conversa</translation>
    </message>
    <message>
        <source>via {number}</source>
        <translation>via {number}</translation>
    </message>
    <message>
        <source>Nobody has this conversation yet</source>
        <translation>Ninguém assumiu esta conversa ainda</translation>
    </message>
    <message>
        <source>You have this conversation</source>
        <translation>Esta conversa é sua</translation>
    </message>
    <message>
        <source>%1 has this conversation</source>
        <translation>%1 assumiu esta conversa</translation>
    </message>
    <message>
        <source>Nobody</source>
        <translation>Ninguém</translation>
    </message>
    <message>
        <source>Not assigned</source>
        <translation>Não atribuída</translation>
    </message>
    <message>
        <source>That person cannot take this conversation: they do not see its number.</source>
        <translation>Essa pessoa não pode assumir esta conversa: ela não vê este número.</translation>
    </message>
    <message>
        <source>The server did not assign this conversation: %1</source>
        <translation>O servidor não atribuiu esta conversa: %1</translation>
    </message>
    <message>
        <source>&amp;Notes (%1)</source>
        <translation>&amp;Notas (%1)</translation>
    </message>
</context>
<context>
    <name>ChatPane</name>
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
        <source>Send a &amp;template…</source>
        <translation>Enviar um &amp;modelo…</translation>
    </message>
    <message numerus="yes">
        <source>Reply window open for %n more hour(s).</source>
        <translation>
            <numerusform>Janela de resposta aberta por mais %n hora.</numerusform>
            <numerusform>Janela de resposta aberta por mais %n horas.</numerusform>
        </translation>
    </message>
    <message>
        <source>Reply window closes in less than an hour.</source>
        <translation>A janela de resposta fecha em menos de uma hora.</translation>
    </message>
    <message>
        <source>The customer last wrote more than 24 hours ago: WhatsApp lets a business write again only with an approved template, until the customer replies.</source>
        <translation>O cliente escreveu pela última vez há mais de 24 horas: o WhatsApp só deixa a empresa escrever de novo com um modelo aprovado, até o cliente responder.</translation>
    </message>
    <message>
        <source>Not sent: {reason}</source>
        <translation>Não enviada: {reason}</translation>
    </message>
    <message>
        <source>Send again?</source>
        <translation>Enviar de novo?</translation>
    </message>
    <message>
        <source>Caixa lost the answer while sending this message: it may have reached the customer. Send it again anyway?</source>
        <translation>O Caixa perdeu a resposta ao enviar esta mensagem: ela pode ter chegado ao cliente. Enviar de novo mesmo assim?</translation>
    </message>
    <message>
        <source>Send again</source>
        <translation>Enviar de novo</translation>
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
    <name>ConversationPane</name>
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
        <source>Connect a number through Meta&apos;s official Cloud API, Evolution API (linked by QR code) or your own Caixa gateway.</source>
        <translation>Conecte um número pela Cloud API oficial da Meta, pela Evolution API (conectado por QR code) ou pelo seu próprio gateway do Caixa.</translation>
    </message>
    <message>
        <source>&amp;Join a team</source>
        <translation>&amp;Entrar em uma equipe</translation>
    </message>
    <message>
        <source>Share the numbers&apos; conversations with your colleagues through your team&apos;s Caixa server: you need its address, a user and a password.</source>
        <translation>Compartilhe as conversas dos números com seus colegas pelo servidor Caixa da sua equipe: você precisa do endereço dele, de um usuário e de uma senha.</translation>
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
        <source>This message was deleted</source>
        <translation>Esta mensagem foi apagada</translation>
    </message>
    <message>
        <source>(edited)</source>
        <translation>(editada)</translation>
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
        <source>the provider never confirmed it, so it was not sent (send it again if needed)</source>
        <translation>o provedor nunca a confirmou, então ela não foi enviada (envie de novo se precisar)</translation>
    </message>
    <message>
        <source>Caixa gave up after {n} attempts ({last})</source>
        <translation>o Caixa desistiu depois de {n} tentativas ({last})</translation>
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
    <name>InboxPresenter</name>
    <message>
        <source>the message is longer than this number can send (%1 characters): shorten it or send it in parts.</source>
        <translation>a mensagem é mais longa do que este número pode enviar (%1 caracteres): encurte-a ou envie em partes.</translation>
    </message>
    <message>
        <source>an empty message cannot be sent</source>
        <translation>uma mensagem vazia não pode ser enviada</translation>
    </message>
    <message>
        <source>that message no longer exists</source>
        <translation>essa mensagem não existe mais</translation>
    </message>
    <message>
        <source>only a message that failed or may not have been sent can be resent</source>
        <translation>só uma mensagem que falhou ou talvez não tenha sido enviada pode ser reenviada</translation>
    </message>
    <message>
        <source>only text messages can be sent again</source>
        <translation>só mensagens de texto podem ser reenviadas</translation>
    </message>
    <message>
        <source>only a supervisor can send a failed message again</source>
        <translation>só um supervisor pode reenviar uma mensagem que falhou</translation>
    </message>
</context>
<context>
    <name>JoinTeam</name>
    <message>
        <source>Type the server&apos;s address, for example https://caixa.example.com</source>
        <translation>Digite o endereço do servidor, por exemplo https://caixa.example.com</translation>
    </message>
    <message>
        <source>“%1” is not a server address, for example https://caixa.example.com</source>
        <translation>“%1” não é um endereço de servidor; por exemplo: https://caixa.example.com</translation>
    </message>
    <message>
        <source>Wrong user or password (or this user was disabled).</source>
        <translation>Usuário ou senha incorretos (ou este usuário foi desativado).</translation>
    </message>
    <message>
        <source>Cannot reach the server at %1. Check the address and your internet connection.</source>
        <translation>Não foi possível acessar o servidor em %1. Verifique o endereço e sua conexão com a internet.</translation>
    </message>
    <message>
        <source>This version of Caixa is too old for this server. Update Caixa first.</source>
        <translation>Esta versão do Caixa é antiga demais para este servidor. Atualize o Caixa primeiro.</translation>
    </message>
    <message>
        <source>The address %1 does not answer like a Caixa server.</source>
        <translation>O endereço %1 não responde como um servidor Caixa.</translation>
    </message>
    <message>
        <source>Joining failed: %1</source>
        <translation>Não foi possível entrar na equipe: %1</translation>
    </message>
    <message>
        <source>Type your user and password.</source>
        <translation>Digite seu usuário e sua senha.</translation>
    </message>
</context>
<context>
    <name>JoinTeamDialog</name>
    <message>
        <source>Log in again</source>
        <translation>Entrar novamente</translation>
    </message>
    <message>
        <source>Join a team</source>
        <translation>Entrar em uma equipe</translation>
    </message>
    <message>
        <source>Your session with the team server ended. Type your password to continue.</source>
        <translation>Sua sessão com o servidor da equipe terminou. Digite sua senha para continuar.</translation>
    </message>
    <message>
        <source>Type the address of your team&apos;s Caixa server and the user your supervisor made for you. Every conversation of the numbers you may see is copied to this computer, encrypted.</source>
        <translation>Digite o endereço do servidor Caixa da sua equipe e o usuário que seu supervisor criou para você. Todas as conversas dos números que você pode ver são copiadas para este computador, criptografadas.</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Servidor</translation>
    </message>
    <message>
        <source>&amp;User</source>
        <translation>&amp;Usuário</translation>
    </message>
    <message>
        <source>&amp;Password</source>
        <translation>S&amp;enha</translation>
    </message>
    <message>
        <source>Copying conversations… %v of %m</source>
        <translation>Copiando conversas… %v de %m</translation>
    </message>
    <message>
        <source>&amp;Log in</source>
        <translation>&amp;Entrar</translation>
    </message>
    <message>
        <source>&amp;Join</source>
        <translation>&amp;Entrar na equipe</translation>
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
    <name>NotesDialog</name>
    <message>
        <source>Notes</source>
        <translation>Notas</translation>
    </message>
    <message>
        <source>Internal notes: your team sees them, the customer never does.</source>
        <translation>Notas internas: sua equipe as vê, o cliente nunca.</translation>
    </message>
    <message>
        <source>No notes yet.</source>
        <translation>Ainda não há notas.</translation>
    </message>
    <message>
        <source>Write a note for the team…</source>
        <translation>Escreva uma nota para a equipe…</translation>
    </message>
    <message>
        <source>New note</source>
        <translation>Nova nota</translation>
    </message>
    <message>
        <source>&amp;Add note</source>
        <translation>&amp;Adicionar nota</translation>
    </message>
    <message>
        <source>Someone</source>
        <translation>Alguém</translation>
    </message>
</context>
<context>
    <name>NumberFlows</name>
    <message>
        <source>Demo workspace</source>
        <translation>Espaço de demonstração</translation>
    </message>
    <message>
        <source>The demo workspace holds fictitious numbers only. Start Caixa without --demo to add your own WhatsApp numbers.</source>
        <translation>O espaço de demonstração tem apenas números fictícios. Abra o Caixa sem --demo para adicionar seus números de WhatsApp.</translation>
    </message>
    <message>
        <source>The listen address must look like HOST:PORT, e.g. 0.0.0.0:8787.</source>
        <translation>O endereço de escuta deve ter a forma HOST:PORTA, ex.: 0.0.0.0:8787.</translation>
    </message>
    <message>
        <source>The public address must start with https:// (or http://).</source>
        <translation>O endereço público deve começar com https:// (ou http://).</translation>
    </message>
    <message>
        <source>Caixa could not listen on %1: is another program using it?</source>
        <translation>O Caixa não conseguiu escutar em %1: outro programa está usando?</translation>
    </message>
</context>
<context>
    <name>PairingDialog</name>
    <message>
        <source>Link %1</source>
        <translation>Conectar %1</translation>
    </message>
    <message>
        <source>Phone number, e.g. +55 11 91234-5678</source>
        <translation>Número de telefone, ex.: +55 11 91234-5678</translation>
    </message>
    <message>
        <source>Phone number for a pairing code</source>
        <translation>Número de telefone para o código de pareamento</translation>
    </message>
    <message>
        <source>Use a &amp;pairing code instead</source>
        <translation>Usar um código de &amp;pareamento</translation>
    </message>
</context>
<context>
    <name>PairingPresenter</name>
    <message>
        <source>Asking the server for a QR code…</source>
        <translation>Pedindo um QR code ao servidor…</translation>
    </message>
    <message>
        <source>Type the number with country and area code, e.g. 55 11 91234-5678.</source>
        <translation>Digite o número com código do país e DDD, ex.: 55 11 91234-5678.</translation>
    </message>
    <message>
        <source>Asking the server for a pairing code…</source>
        <translation>Pedindo um código de pareamento ao servidor…</translation>
    </message>
    <message>
        <source>The server refused the credentials. Check the key or token.</source>
        <translation>O servidor recusou as credenciais. Confira a chave ou o token.</translation>
    </message>
    <message>
        <source>The server could not start linking: %1</source>
        <translation>O servidor não conseguiu iniciar a conexão: %1</translation>
    </message>
    <message>
        <source>On the phone: WhatsApp → Settings → Linked devices → Link a device, then point the camera at this code.</source>
        <translation>No celular: WhatsApp → Configurações → Aparelhos conectados → Conectar um aparelho, e aponte a câmera para este código.</translation>
    </message>
    <message>
        <source>WhatsApp blocked this number: %1</source>
        <translation>O WhatsApp bloqueou este número: %1</translation>
    </message>
    <message>
        <source>Linking did not complete: %1</source>
        <translation>A conexão não foi concluída: %1</translation>
    </message>
    <message>
        <source>The phone scanned the code. Connecting…</source>
        <translation>O celular leu o código. Conectando…</translation>
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
    <name>QrCodeWidget</name>
    <message>
        <source>QR code to scan with WhatsApp</source>
        <translation>QR code para ler com o WhatsApp</translation>
    </message>
</context>
<context>
    <name>RailPane</name>
    <message>
        <source>Numbers</source>
        <translation>Números</translation>
    </message>
    <message>
        <source>WhatsApp numbers</source>
        <translation>Números de WhatsApp</translation>
    </message>
    <message>
        <source>+ Add a number</source>
        <translation>+ Adicionar número</translation>
    </message>
    <message>
        <source>Connect another WhatsApp number</source>
        <translation>Conectar outro número de WhatsApp</translation>
    </message>
    <message>
        <source>Webhooks…</source>
        <translation>Webhooks…</translation>
    </message>
    <message>
        <source>Where this computer receives the providers&apos; webhooks</source>
        <translation>Onde este computador recebe os webhooks dos provedores</translation>
    </message>
    <message>
        <source>Leave the team…</source>
        <translation>Sair da equipe…</translation>
    </message>
    <message>
        <source>Stop following the team&apos;s server on this computer</source>
        <translation>Parar de acompanhar o servidor da equipe neste computador</translation>
    </message>
    <message>
        <source>Join a team…</source>
        <translation>Entrar em uma equipe…</translation>
    </message>
    <message>
        <source>Share conversations with colleagues through your team&apos;s Caixa server</source>
        <translation>Compartilhe conversas com colegas pelo servidor Caixa da sua equipe</translation>
    </message>
    <message>
        <source>Link this number again…</source>
        <translation>Conectar este número de novo…</translation>
    </message>
</context>
<context>
    <name>ReceiverDialog</name>
    <message>
        <source>Receive webhooks</source>
        <translation>Receber webhooks</translation>
    </message>
    <message>
        <source>Providers deliver messages by calling this computer. Give the address to listen on (e.g. 0.0.0.0:8787) and the public address that reaches it (a tunnel or port forward, e.g. https://shop.example.com). Leave the first empty to stop.</source>
        <translation>Os provedores entregam as mensagens chamando este computador. Informe o endereço em que ele escuta (ex.: 0.0.0.0:8787) e o endereço público que chega até ele (um túnel ou redirecionamento de porta, ex.: https://loja.exemplo.com.br). Deixe o primeiro vazio para parar.</translation>
    </message>
    <message>
        <source>Listen on</source>
        <translation>Escutar em</translation>
    </message>
    <message>
        <source>Public address</source>
        <translation>Endereço público</translation>
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
<context>
    <name>TeamBanner</name>
    <message>
        <source>&amp;Log in again…</source>
        <translation>&amp;Entrar novamente…</translation>
    </message>
    <message>
        <source>Your session with the team server ended (password changed or access removed). Your messages are safe here.</source>
        <translation>Sua sessão com o servidor da equipe terminou (senha alterada ou acesso removido). Suas mensagens estão seguras aqui.</translation>
    </message>
    <message>
        <source>This version of Caixa is too old for the team server: update it. Your messages are safe here.</source>
        <translation>Esta versão do Caixa é antiga demais para o servidor da equipe: atualize-a. Suas mensagens estão seguras aqui.</translation>
    </message>
    <message>
        <source>Offline: 1 message waits and goes out when the connection returns.</source>
        <translation>Sem conexão: 1 mensagem aguarda e será enviada quando a conexão voltar.</translation>
    </message>
    <message>
        <source>Offline: %1 messages wait and go out, in order, when the connection returns.</source>
        <translation>Sem conexão: %1 mensagens aguardam e serão enviadas, em ordem, quando a conexão voltar.</translation>
    </message>
    <message>
        <source>Offline: you can keep reading, searching and writing.</source>
        <translation>Sem conexão: você pode continuar lendo, pesquisando e escrevendo.</translation>
    </message>
</context>
<context>
    <name>TemplateDialog</name>
    <message>
        <source>Send a template</source>
        <translation>Enviar um modelo</translation>
    </message>
    <message>
        <source>Loading the number&apos;s approved templates…</source>
        <translation>Carregando os modelos aprovados do número…</translation>
    </message>
    <message>
        <source>Templates</source>
        <translation>Modelos</translation>
    </message>
    <message>
        <source>The customer will read:</source>
        <translation>O cliente vai ler:</translation>
    </message>
    <message>
        <source>&amp;Send</source>
        <translation>&amp;Enviar</translation>
    </message>
    <message>
        <source>The templates could not be read: %1</source>
        <translation>Não foi possível ler os modelos: %1</translation>
    </message>
    <message>
        <source>This number has no approved text template. Create one in Meta&apos;s WhatsApp Manager; it can be used here once Meta approves it.</source>
        <translation>Este número não tem modelo de texto aprovado. Crie um no Gerenciador do WhatsApp da Meta; ele poderá ser usado aqui assim que a Meta aprovar.</translation>
    </message>
    <message>
        <source>Choose a template:</source>
        <translation>Escolha um modelo:</translation>
    </message>
    <message>
        <source>Header {{%1}}</source>
        <translation>Cabeçalho {{%1}}</translation>
    </message>
    <message>
        <source>Text {{%1}}</source>
        <translation>Texto {{%1}}</translation>
    </message>
</context>
</TS>
