<%@ Page Language="C#" %>
<script runat="server">
void Sign_Click(object sender, EventArgs e)
{
    string path = Server.MapPath("~/App_Data/guestbook.txt");
    using (System.IO.StreamWriter sw = new System.IO.StreamWriter(path, true))
    {
        sw.WriteLine(Server.HtmlEncode(this.txtName.Text) + ": " + Server.HtmlEncode(this.txtMessage.Text));
    }
    lblDone.Text = "Thank you";
}
</script>
<html><body>
<form runat="server">
Name: <asp:TextBox runat="server" ID="txtName" />
Message: <asp:TextBox runat="server" ID="txtMessage" TextMode="MultiLine" />
<asp:Button runat="server" Text="Sign" OnClick="Sign_Click" />
<asp:Label runat="server" ID="lblDone" />
</form>
</body></html>
